package chain

import (
	"errors"
	"testing"
)

func TestParseValues(t *testing.T) {
	fields := []Field{
		{Name: "to", Kind: FieldAddress, Required: true},
		{Name: "transfer", Kind: FieldEnum, Enum: []string{"free", "merchants"}, Default: "free"},
		{Name: "minutes", Kind: FieldUint, Bits: 32, Max: 59},
		{Name: "expiry", Kind: FieldDuration},
		{Name: "end", Kind: FieldTime},
		{Name: "cats", Kind: FieldList, Max: 2},
		{Name: "ref", Kind: FieldString, Max: 4},
		{Name: "all", Kind: FieldBool},
	}
	to := AddressOf(PubKey{1}).String()
	cases := []struct {
		name string
		raw  map[string]string
		ok   bool
	}{
		{"minimal", map[string]string{"to": to}, true},
		{"everything", map[string]string{"to": to, "transfer": "merchants", "minutes": "59", "expiry": "26280h",
			"end": "2027-12-31T23:59:59Z", "cats": "food,books", "ref": "inv1", "all": "true"}, true},
		{"missing required", map[string]string{}, false},
		{"empty required", map[string]string{"to": ""}, false},
		{"bad address", map[string]string{"to": "dure1nope"}, false},
		{"enum typo", map[string]string{"to": to, "transfer": "merchant"}, false},
		{"above max", map[string]string{"to": to, "minutes": "60"}, false},
		{"above bits", map[string]string{"to": to, "minutes": "4294967296"}, false},
		{"negative", map[string]string{"to": to, "minutes": "-1"}, false},
		{"bad duration", map[string]string{"to": to, "expiry": "3 years"}, false},
		{"bad time", map[string]string{"to": to, "end": "2027-12-31"}, false},
		{"too many items", map[string]string{"to": to, "cats": "a,b,c"}, false},
		{"too long", map[string]string{"to": to, "ref": "invoice"}, false},
		{"unknown name", map[string]string{"to": to, "tranfser": "free"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := ParseValues(fields, c.raw, PubKey{})
			if c.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrBadField) {
					t.Fatalf("%v does not wrap ErrBadField", err)
				}
				return
			}
			if v.String("transfer") == "" || v.Address("to").String() != to {
				t.Fatalf("defaults or values lost: %q %s", v.String("transfer"), v.Address("to"))
			}
		})
	}
	v, err := ParseValues(fields, cases[1].raw, PubKey{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Seconds("expiry") != 26280*3600 || v.Uint("minutes") != 59 || len(v.List("cats")) != 2 || !v.Bool("all") ||
		v.Time("end") != UnixSeconds(1830297599) || v.Time("end").Unix() != 1830297599 {
		t.Fatalf("typed values: %d %d %v %v %s", v.Seconds("expiry"), v.Uint("minutes"), v.List("cats"), v.Bool("all"), v.Time("end"))
	}
	if err := fields[1].CheckValue("merchant"); !errors.Is(err, ErrBadField) || err.Error() != "invalid field: want free or merchants" {
		t.Fatalf("CheckValue: %v", err)
	}
}
