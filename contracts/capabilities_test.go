package contracts

import (
	"strings"
	"testing"
)

func TestCapabilitiesHelpers(t *testing.T) {
	c := Capabilities{
		Currencies: []Currency{TWD, JPY},
		Flows:      []Flow{FlowQR},
		MaxAmount:  map[Currency]int64{TWD: 10_000, JPY: 700},
		Step:       map[Currency]int64{TWD: 100},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Takes(TWD) || c.Takes(THB) || !c.Supports(FlowQR) || c.Supports(FlowBarcode) {
		t.Errorf("Takes/Supports wrong for %+v", c)
	}
	if c.StepOf(TWD) != 100 || c.StepOf(JPY) != 1 || c.StepOf(THB) != 1 {
		t.Errorf("StepOf: TWD %d, JPY %d, THB %d", c.StepOf(TWD), c.StepOf(JPY), c.StepOf(THB))
	}
}

// TestCapabilitiesValidate: a declaration the engine could not enforce is an error.
func TestCapabilitiesValidate(t *testing.T) {
	valid := func() Capabilities {
		return Capabilities{Currencies: []Currency{TWD}, Flows: []Flow{FlowQR},
			MaxAmount: map[Currency]int64{TWD: 10_000}, Step: map[Currency]int64{TWD: 100}}
	}
	for name, tc := range map[string]struct {
		mutate func(*Capabilities)
		want   string
	}{
		"no currency":            {func(c *Capabilities) { c.Currencies = nil }, "no currency"},
		"no flow":                {func(c *Capabilities) { c.Flows = nil }, "no flow"},
		"no cap":                 {func(c *Capabilities) { c.MaxAmount = nil }, "TWD: no positive MaxAmount"},
		"zero cap":               {func(c *Capabilities) { c.MaxAmount[TWD] = 0 }, "TWD: no positive MaxAmount"},
		"cap off the step":       {func(c *Capabilities) { c.MaxAmount[TWD] = 10_050 }, "not a multiple of the step 100"},
		"cap of another":         {func(c *Capabilities) { c.MaxAmount[JPY] = 1 }, "JPY: a MaxAmount for a currency not in Currencies"},
		"step of another":        {func(c *Capabilities) { c.Step[THB] = 100 }, "THB: a Step for a currency not in Currencies"},
		"step not positive":      {func(c *Capabilities) { c.Step[TWD] = 0 }, "TWD: step 0 is not positive"},
		"several faults at once": {func(c *Capabilities) { c.Flows, c.Currencies = nil, nil }, "no currency\nno flow"},
	} {
		c := valid()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}
