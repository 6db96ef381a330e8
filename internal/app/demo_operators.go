package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"payhub/contracts"
	"payhub/internal/audit"
	"payhub/internal/auth"
	"payhub/internal/operators"
	"payhub/internal/secrets"
)

// The demo's operators (docs/ops-api.md): alice and bob, each with the operator and
// security_admin roles — two people, so that one can approve what the other asked for —
// and viewer, which the API's reads require (a role does not include another).
// Each has an Ed25519 key in the data directory (registered as the demo's operator keys,
// as PAYHUB_OPERATOR_KEYS registers serve's) and is enrolled for TOTP step-up through the
// operators package, with the enrolment's audit entry. Their TOTP secrets are kept in the
// data directory too (owner-only), so `payhub ops --demo-dir … --as alice step-up` needs no
// phone: a demo convenience a real deployment never has — there the secret lives only in
// the operator's authenticator app and, sealed, in the database.

// demoOperatorNames are the demo's operators, in order.
var demoOperatorNames = []string{"alice", "bob"}

// demoOperatorRoles are the roles every demo operator is granted.
var demoOperatorRoles = []string{auth.RoleViewer, auth.RoleOperator, auth.RoleSecurityAdmin}

// demoOperatorActor is who enrols the demo's operators, in the audit log.
const demoOperatorActor = "demo"

// loadDemoOperatorKeys creates the demo operators' keys on first run and reuses the files
// afterwards; it returns the operator keys payhub verifies their tokens with, and the
// operators' files.
func loadDemoOperatorKeys(dataDir string) (auth.KeySource, []demoOperatorFiles, error) {
	var list []auth.OperatorKey
	var files []demoOperatorFiles
	for _, name := range demoOperatorNames {
		op := demoOperatorFiles{Operator: name, KeyID: name, Roles: demoOperatorRoles,
			KeyFile: "operator-" + name + ".pem", SecretFile: "operator-" + name + ".totp"}
		key, err := loadOrCreateDemoKey(filepath.Join(dataDir, op.KeyFile))
		if err != nil {
			return nil, nil, fmt.Errorf("demo operator %s: %w", name, err)
		}
		pub, err := auth.MarshalPublicKeyPEM(key.Public())
		if err != nil {
			return nil, nil, err
		}
		list = append(list, auth.OperatorKey{Operator: name, KeyID: op.KeyID, PublicKeyPEM: string(pub), Roles: op.Roles})
		files = append(files, op)
	}
	raw, err := json.Marshal(list)
	if err != nil {
		return nil, nil, err
	}
	keys, err := auth.ParseOperatorKeys(raw)
	if err != nil {
		return nil, nil, err
	}
	return keys, files, nil
}

// ensureDemoOperators enrols each demo operator for step-up unless the database has their
// enrolment and the data directory their secret (a restart), writing the secret to the data
// directory (owner-only); box is the ring payhub runs with, auditKey the demo's audit key.
// It then writes demoOperatorsFile with payhub's URL.
func ensureDemoOperators(ctx context.Context, st contracts.Store, box *secrets.Box, auditKey []byte, dataDir, apiURL string,
	files []demoOperatorFiles) error {
	for _, op := range files {
		secretPath := filepath.Join(dataDir, op.SecretFile)
		_, statErr := os.Stat(secretPath)
		var en operators.Enrolment
		enrolled := false
		err := st.InTx(ctx, func(tx contracts.Tx) error {
			_, err := tx.GetOperatorTOTPForUpdate(ctx, op.Operator)
			switch {
			case err == nil && statErr == nil:
				return nil // enrolled before, secret at hand
			case err != nil && !errors.Is(err, contracts.ErrNotFound):
				return err
			}
			replaced := err == nil
			if en, err = operators.Enroll(ctx, tx, box, op.Operator, demoOperatorActor, time.Now().UTC()); err != nil {
				return err
			}
			enrolled = true
			return recordChange(ctx, tx, auditKey, demoOperatorActor, "operator.step_up.enroll", "operator:"+op.Operator, audit.Change{
				After: map[string]any{"replaced": replaced, "sealed_under": box.KeyID(),
					"period_seconds": int(operators.Period / time.Second), "digits": 6, "algorithm": "SHA1",
					"copy_in_demo_data_dir": true}})
		})
		if err != nil {
			return fmt.Errorf("enrol demo operator %s: %w", op.Operator, err)
		}
		if !enrolled {
			continue
		}
		if err := os.WriteFile(secretPath, []byte(en.Secret+"\n"), 0o600); err != nil {
			return err
		}
		// A new secret starts a new count of used steps.
		if err := os.Remove(secretPath + "-last-step"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	b, err := json.MarshalIndent(demoOperators{URL: apiURL, Operators: files}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, demoOperatorsFile), append(b, '\n'), 0o600)
}
