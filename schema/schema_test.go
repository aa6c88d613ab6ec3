package schema

import (
	"errors"
	"strings"
	"testing"
)

func TestValidDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"1975", true},
		{"1975-03", true},
		{"1975-03-02", true},
		{"1975-03-02T10", true},
		{"1975-03-02T10:30", true},
		{"1975-03-02T23:59:60", true}, // leap second
		{"2000-02-29", true},          // divisible by 400
		{"2004-02-29", true},
		{"1900-02-29", false}, // divisible by 100 only
		{"2023-02-29", false},
		{"2023-02-28", true},
		{"1975-04-31", false},
		{"1975-12-31", true},
		{"1975-13-01", false},
		{"1975-00", false},
		{"1975-01-00", false},
		{"1975-3", false},
		{"1975-03-2", false},
		{"75", false},
		{"", false},
		{"197a", false},
		{"1975-03-02Z", false},
		{"1975-03-02 10:30", false},
		{"1975-03-02T24", false},
		{"1975-03-02T10:60", false},
		{"1975-03-02T10:30:61", false},
		{"1975-03-02T10:30:00Z", false},
		{"１９７５", false}, // full-width digits
	} {
		if got := ValidDate(tc.in); got != tc.want {
			t.Errorf("ValidDate(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestValidIBAN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"DE89370400440532013000", true},
		{"DE88370400440532013000", false}, // check digits off by one
		{"DE89370400440532013001", false}, // account number changed
		{"GB82WEST12345698765432", true},
		{"de89370400440532013000", false}, // lowercase
		{"DE89 3704 0044 0532 0130 00", false},
		{"XX89370400440532013000", false}, // no such country
		{"DE8937040044", false},           // too short
		{"D189370400440532013000", false},
		{"DEA9370400440532013000", false},
		{"DE89370400440532013000" + strings.Repeat("0", 13), false},
	} {
		if got := ValidIBAN(tc.in); got != tc.want {
			t.Errorf("ValidIBAN(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"NK-2Tbri3s6GgNtAwsSXh4qpL", "6d03aec76fdeec8f9697d8b19954ab6fc2568bc8", "a.b_c:d-e", "x",
		strings.Repeat("a", MaxIDLen)} {
		if err := CheckID(ok); err != nil {
			t.Errorf("CheckID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "é", "a/b", "a\x00", strings.Repeat("a", MaxIDLen+1), "P-1\n"} {
		if err := CheckID(bad); err == nil {
			t.Errorf("CheckID(%q) accepted", bad)
		}
	}
}

func TestCheckAgency(t *testing.T) {
	for _, ok := range []string{"KZ-NCB", "CARICC", "XX", strings.Repeat("A", 32)} {
		if err := CheckAgency(ok); err != nil {
			t.Errorf("CheckAgency(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "K", "kz-ncb", "KZ NCB", strings.Repeat("A", 33), "KZ_NCB"} {
		if err := CheckAgency(bad); err == nil {
			t.Errorf("CheckAgency(%q) accepted", bad)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range []string{ModelVersion, "1.0", "1.7", "1.1234"} {
		if err := CheckVersion(ok); err != nil {
			t.Errorf("CheckVersion(%q): %v", ok, err)
		}
	}
	for _, v := range []string{"2.0", "0.9", "10.0"} {
		if err := CheckVersion(v); !errors.Is(err, ErrSchemaVersion) {
			t.Errorf("CheckVersion(%q) = %v, want ErrSchemaVersion", v, err)
		}
	}
	for _, v := range []string{"", "1", "1.", ".0", "01.0", "1.00", "1.x", "1.0.0", "-1.0", "1.12345", " 1.0"} {
		err := CheckVersion(v)
		if err == nil || errors.Is(err, ErrSchemaVersion) || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("CheckVersion(%q) = %v, want a malformed-version error", v, err)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"Иван Петров":   "Иван Петров",
		"a\x1b[31mred":  `a\u001b[31mred`,
		"rlo\u202eevil": `rlo\u202eevil`,
		"nul\x00":       `nul\u0000`,
		"bad\xff\xfe":   `bad\xff\xfe`,
		"cut\xe2\x82":   `cut\xe2\x82`,
		"back\\slash":   `back\\slash`,
		"tab\tnl\n":     `tab\u0009nl\u000a`,
		"del\x7f":       `del\u007f`,
		"c1\u0085":      `c1\u0085`,
		"ls\u2028":      `ls\u2028`,
		"lri\u2066":     `lri\u2066`,
		"\ufffd":        "\ufffd",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func person() *Record {
	return &Record{ID: "P-1", Schema: "Person", Origin: "KZ-NCB", Handling: Handling{TLP: "amber"},
		Properties: map[string][]string{"name": {"Ivan Petrov"}}}
}

// TestValidate: one problem per fault, naming the property and the rule.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(r *Record)
		prop, has string
	}{
		{"valid", func(r *Record) {}, "", ""},
		{"combined codes", func(r *Record) { r.Handling.Code, r.Handling.Conditions = "H1+H3", []string{"not to the press"} }, "", ""},
		{"multi-line string", func(r *Record) { r.Properties["birthPlace"] = []string{"Tirin Kot\nAfghanistan"} }, "", ""},
		{"multi-line name", func(r *Record) { r.Properties["alias"] = []string{"Ivan\nPetrov"} }, "alias", "control character"},
		{"bad date", func(r *Record) { r.Properties["birthDate"] = []string{"1975", "1975-13-01"} }, "birthDate", `value 2 "1975-13-01": not an ISO 8601 date`},
		{"bidi", func(r *Record) { r.Properties["name"] = []string{"a\u202eb"} }, "name", `value 1 "a\u202eb": contains a bidirectional`},
		{"upper country", func(r *Record) { r.Properties["nationality"] = []string{"KZ"} }, "nationality", "not an ISO 3166-1"},
		{"gender", func(r *Record) { r.Properties["gender"] = []string{"m"} }, "gender", "not a gender"},
		{"unknown property", func(r *Record) { r.Properties["shoeSize"] = []string{"44"} }, "shoeSize", "not a property of Person"},
		{"missing name", func(r *Record) { delete(r.Properties, "name") }, "name", "required by Person but missing"},
		{"unknown schema", func(r *Record) { r.Schema = "Spaceship" }, "", `unknown schema "Spaceship"`},
		{"abstract schema", func(r *Record) { r.Schema = "Thing" }, "", "abstract"},
		{"bad id", func(r *Record) { r.ID = "P 1" }, "", "id has character ' '"},
		{"bad origin", func(r *Record) { r.Origin = "kz" }, "origin", "agency id"},
		{"bad tlp", func(r *Record) { r.Handling.TLP = "white" }, "handling.tlp", "must be one of"},
		{"bad code", func(r *Record) { r.Handling.Code = "H4" }, "handling.code", "H0, or H1, H2, H3"},
		{"codes out of order", func(r *Record) { r.Handling.Code = "H3+H1" }, "handling.code", "ascending"},
		{"H0 combined", func(r *Record) { r.Handling.Code = "H0+H2" }, "handling.code", "not a handling code"},
		{"conditions without H3", func(r *Record) { r.Handling.Code, r.Handling.Conditions = "H2", []string{"no court use"} }, "handling.conditions", "must include H3"},
		{"conditions unsorted", func(r *Record) { r.Handling.Code, r.Handling.Conditions = "H3", []string{"b", "a"} }, "handling.conditions", "sorted"},
		{"bad retain", func(r *Record) { r.Handling.RetainUntil = "2030" }, "handling.retain_until", "YYYY-MM-DD"},
		{"bad evaluation", func(r *Record) { r.Evaluation = &Evaluation{Reliability: "G", Credibility: "1"} }, "evaluation.reliability", "A–F"},
		{"reserved extra", func(r *Record) { r.Extra = map[string][]byte{"schema": []byte(`"x"`)} }, "", `extra key "schema" is a record field`},
		{"empty extra", func(r *Record) { r.Extra = map[string][]byte{"x": nil} }, "", "has no value"},
		{"bad dot", func(r *Record) { r.Version.Props = map[string]string{"name": "KZ-NCB:0"} }, "version.props", "version stamp"},
		{"tombstone needs no name", func(r *Record) { r.Deleted = true; delete(r.Properties, "name") }, "", ""},
	} {
		r := person()
		tc.change(r)
		ps := r.Validate()
		if tc.has == "" {
			if len(ps) != 0 {
				t.Errorf("%s: %v", tc.name, ps)
			}
			continue
		}
		if len(ps) != 1 || ps[0].Property != tc.prop || !strings.Contains(ps[0].Rule, tc.has) || ps[0].ID != r.ID {
			t.Errorf("%s: %v, want one problem in %q with %q", tc.name, ps, tc.prop, tc.has)
			continue
		}
		if !errors.Is(ps[0], ErrInvalid) {
			t.Errorf("%s: problem is not ErrInvalid", tc.name)
		}
	}
}

func TestContentHash(t *testing.T) {
	a, b := person(), person()
	b.Version = Version{Vector: map[string]uint64{"KZ-NCB": 3}, By: "KZ-NCB", At: "2026-01-01T00:00:00Z"}
	if a.ContentHash() != b.ContentHash() {
		t.Error("version changes the content hash")
	}
	b.Properties["name"] = []string{"Ivan Petrov", "I. Petrov"}
	if a.ContentHash() == b.ContentHash() {
		t.Error("a new value does not change the content hash")
	}
	c := person()
	c.Properties["alias"] = []string{}
	if a.ContentHash() != c.ContentHash() {
		t.Error("an empty property changes the content hash")
	}
}

func TestClone(t *testing.T) {
	a := person()
	a.Extra = map[string][]byte{"x": []byte("1")}
	a.Handling.ReleasableTo = []string{"CARICC"}
	b := a.Clone()
	b.Properties["name"][0] = "changed"
	b.Extra["x"][0] = '2'
	b.Handling.ReleasableTo[0] = "KG-NCB"
	if a.Properties["name"][0] != "Ivan Petrov" || string(a.Extra["x"]) != "1" || a.Handling.ReleasableTo[0] != "CARICC" {
		t.Error("clone shares memory with the original")
	}
}

func TestModel(t *testing.T) {
	for _, name := range Names() {
		s, _ := Get(name)
		for _, req := range s.Required {
			if _, ok := s.Prop(req); !ok {
				t.Errorf("%s requires %s, which it does not have", name, req)
			}
		}
		if s.Link {
			if _, ok := s.Prop(s.Source); !ok {
				t.Errorf("link %s: source %s is not a property", name, s.Source)
			}
		}
		for _, p := range s.Props() {
			if p.Type == TypeEntity {
				if _, ok := Get(p.Range); !ok {
					t.Errorf("%s.%s: range %q is no schema", name, p.Name, p.Range)
				}
			}
		}
	}
	// FollowTheMoney 3.8.4 has 70 schemata, 5 of them abstract.
	if n := len(Names()); n != 65 {
		t.Errorf("%d concrete schemata, want 65", n)
	}
	p, _ := Get("Person")
	if !p.IsA("LegalEntity") || !p.IsA("Thing") || p.IsA("Organization") {
		t.Error("Person IsA is wrong")
	}
	if c, _ := Get("Company"); !c.IsA("Asset") || !c.IsA("Organization") {
		t.Error("Company is not both an Organization and an Asset")
	}
	for _, name := range []string{"name", "birthDate", "notes", "passportNumber", "spokenLanguage", "topics"} {
		if _, ok := p.Prop(name); !ok {
			t.Errorf("Person has no %s", name)
		}
	}
	if _, ok := p.Prop("unscId"); ok {
		t.Error("Person has unscId; FtM has it on Sanction only")
	}
	if pr, _ := p.Prop("birthDate"); pr.Type != TypeDate {
		t.Errorf("birthDate is %v", pr.Type)
	}
	if v, _ := Get("Vessel"); !v.IsA("Vehicle") {
		t.Error("Vessel is no Vehicle")
	} else if pr, ok := v.Prop("imoNumber"); !ok || pr.Type != TypeIdentifier {
		t.Errorf("Vessel.imoNumber: %+v", pr)
	}
	if s, _ := Get("Sanction"); !s.Link || s.Edge || s.Source != "entity" {
		t.Errorf("Sanction: link %v edge %v source %q", s.Link, s.Edge, s.Source)
	}
	if s, _ := Get("Passport"); !s.Link || s.Source != "holder" || strings.Join(s.Required, ",") != "holder,number" {
		t.Errorf("Passport: link %v source %q required %v", s.Link, s.Source, s.Required)
	}
	if s, _ := Get("Ownership"); !s.Edge || s.Source != "owner" || s.Target != "asset" {
		t.Errorf("Ownership: edge %v %s → %s", s.Edge, s.Source, s.Target)
	}
	if pr, ok := p.Prop("sanctions"); !ok || !pr.Stub || pr.Range != "Sanction" || pr.Reverse != "entity" {
		t.Errorf("Person.sanctions, the reverse of Sanction.entity: %+v", pr)
	}
	for _, c := range []string{"suhh", "csxx", "yucs", "dd", "ua-cri", "ge-ab", "gb-sct", "kz", "zz"} {
		if !ValidCountry(c) {
			t.Errorf("country %s refused", c)
		}
	}
	if ValidCountry("KZ") || ValidCountry("xx") || !ValidTopic("crime.traffick.drug") || ValidTopic("drugs") {
		t.Error("country or topic check is wrong")
	}
}

// TestValidateRequired: a record must have what its schema requires, but a
// link or a record about another record needs only its ends (FtM does not
// enforce its required lists on the data it loads; OpenSanctions publishes
// Passports with a holder and no number).
func TestValidateRequired(t *testing.T) {
	rec := func(schema string, props map[string][]string) *Record {
		return &Record{ID: "r-1", Schema: schema, Origin: "KZ-NCB", Handling: Handling{TLP: "amber"}, Properties: props}
	}
	for _, tc := range []struct {
		r    *Record
		want string
	}{
		{rec("Passport", map[string][]string{"holder": {"p-1"}}), ""},
		{rec("Passport", map[string][]string{"number": {"N1"}}), "holder"},
		{rec("Vessel", map[string][]string{"imoNumber": {"IMO9187629"}}), "name"},
		{rec("Address", map[string][]string{"full": {"Almaty"}}), ""},
		{rec("Ownership", map[string][]string{"owner": {"p-1"}}), "asset"},
	} {
		ps := tc.r.Validate()
		if tc.want == "" && len(ps) != 0 || tc.want != "" && (len(ps) != 1 || ps[0].Property != tc.want) {
			t.Errorf("%s %v: %v, want a problem in %q", tc.r.Schema, tc.r.Properties, ps, tc.want)
		}
	}
}

func TestValidateStub(t *testing.T) {
	r := person()
	r.Properties["sanctions"] = []string{"s-1"}
	ps := r.Validate()
	if len(ps) != 1 || ps[0].Property != "sanctions" || !strings.Contains(ps[0].Rule, "set entity on the Sanction") {
		t.Errorf("a value in a reverse property: %v", ps)
	}
}
