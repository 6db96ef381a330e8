package compensate

import (
	"strings"
	"testing"
)

func TestParseRejectsWithReasons(t *testing.T) {
	in := "claim_id,victim_id,original_id,amount,nanaco_number\n" +
		"c1,u1,pay_01K00000000000000000000000,100,\n" +
		"c1,u1,pay_01K00000000000000000000000,100,\n" +
		"c1,u1,pay_01K00000000000000000000000,200,\n" +
		"c2,u2,xyz,100,\n" +
		"c3,u3,tu_01K00000000000000000000000,-5,\n" +
		"c4,u4,tu_01K00000000000000000000000,5,123\n"
	claims, rej, dups, err := Parse(strings.NewReader(in), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 || dups != 1 || len(rej) != 4 || rej[0].Reason != ReasonDuplicateConflict || rej[1].Reason != ReasonMalformed {
		t.Fatalf("claims %v, rejections %v, duplicates %d", claims, rej, dups)
	}
	claims, rej, _, err = Parse(strings.NewReader(`{"claim_id":"c1","victim_id":"u","original_id":"pay_01K00000000000000000000000","amount":7}`+"\n"+
		`{"claim_id":"c2","victim_id":"u","original_id":"pay_01K00000000000000000000000","amount":"7"}`), FormatJSONL)
	if err != nil || len(claims) != 1 || claims[0].Amount != 7 || len(rej) != 1 {
		t.Fatalf("jsonl: %v %v %v", claims, rej, err)
	}
}

// FuzzParseRow: the row parser never panics, and what it accepts is valid and stable.
func FuzzParseRow(f *testing.F) {
	f.Add("c1", "u1", "pay_01K00000000000000000000000", "100", "0005", "123", "ordinary", "7654321", "ﾔﾏﾀﾞ", "")
	f.Add("c1", "u1", "tu_01K00000000000000000000000", "1", "", "", "", "", "", "7000000000000001")
	f.Fuzz(func(t *testing.T, id, victim, orig, amount, bank, branch, typ, number, kana, nanaco string) {
		c, rej := ParseRow(2, map[string]string{"claim_id": id, "victim_id": victim, "original_id": orig, "amount": amount,
			"bank_code": bank, "branch_code": branch, "account_type": typ, "account_number": number, "holder_kana": kana, "nanaco_number": nanaco})
		if rej != nil {
			if rej.Reason == "" {
				t.Fatal("a rejection without a reason")
			}
			return
		}
		if c.Amount <= 0 || c.Amount > MaxAmount || !validID(c.ClaimID) || len(c.BodyHash()) != 64 {
			t.Fatalf("accepted %+v", c)
		}
	})
}
