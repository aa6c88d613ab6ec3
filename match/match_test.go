package match

import (
	"strings"
	"testing"

	"valise/schema"
)

func TestFold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"AL-JALAMAH, Jaber", "al jalamah jaber"},
		{"Dieudonné Ozia Mazio", "dieudonne ozia mazio"},
		{"Иван Петров", "ivan petrov"},
		{"Захарова Марія", "zakharova mariya"},
		{"جابر الجلامة", "jabr al jlama"},
		{"عمر", "amr"},
		{"Sab’awi O'Brien", "sabawi obrien"},
	} {
		if got := fold(c.in); got != c.want {
			t.Errorf("fold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSkeleton(t *testing.T) {
	same := [][2]string{{"ahmed", "ahmad"}, {"qadhafi", "gaddafi"}, {"sayed", "sayyid"}, {"mohammed", "muhammad"},
		{"sergei", "sergey"}, {"dawood", "daud"}, {"abdullah", "abdulla"}, {"mahmoud", "mahmud"}}
	for _, p := range same {
		if a, b := skeleton(p[0]), skeleton(p[1]); a != b {
			t.Errorf("skeleton(%s) = %q, skeleton(%s) = %q: want equal", p[0], a, p[1], b)
		}
	}
	differ := [][2]string{{"janan", "jan"}, {"kamal", "jamal"}, {"ivan", "ian"}}
	for _, p := range differ {
		if a, b := skeleton(p[0]), skeleton(p[1]); a == b {
			t.Errorf("skeleton(%s) = skeleton(%s) = %q: want different", p[0], p[1], a)
		}
	}
}

func TestNameTokens(t *testing.T) {
	for _, c := range []struct {
		in    string
		class Class
		want  string
	}{
		{"Abd al-Rahman bin Umayr", ClassPerson, "abd rahman umayr"},
		{"Abdulrahman", ClassPerson, "abd rahman"},
		{"Dr. Ibrahim", ClassPerson, "dr ibrahim"},
		{"DCB Finance Ltd", ClassOrg, "dcb finance limited"},
	} {
		if got := strings.Join(nameTokens(fold(c.in), c.class), " "); got != c.want {
			t.Errorf("nameTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDates(t *testing.T) {
	spans := func(notes ...string) []span {
		var out []span
		for _, n := range notes {
			out = datesInText(n, out)
		}
		return out
	}
	for _, c := range []struct {
		note string
		want string
	}{
		{"DOB 12 Jan 1962; POB Cairo", "1962-01-12"},
		{"alt. DOB circa 1962", "circa 1962"},
		{"DOB 1962 to 1965", "1962 to 1965"},
		{"DOB 01 Jan 1973 to 31 Dec 1973", "1973"},
		{"DOB Feb 1963", "1963-02"},
		{"Date of birth: type APPROXIMATELY; year 1967", "circa 1967"},
		{"Date of birth: type BETWEEN; from year 1960; to year 1965", "1960 to 1965"},
	} {
		got := spans(c.note)
		if len(got) != 1 || got[0].String() != c.want {
			t.Errorf("%q gives %v, want %s", c.note, got, c.want)
		}
	}
	day, _ := parseISO("1973-05-06")
	year, _ := parseISO("1973")
	other, _ := parseISO("1975-03-02")
	jan1, _ := parseISO("1973-01-01")
	for _, c := range []struct {
		a, b     []span
		min, max float64
	}{
		{[]span{day}, []span{day}, 0.3, 0.3},
		{[]span{day}, []span{year}, 0.17, 0.17},
		{[]span{day}, spans("DOB circa 1972"), 0.08, 0.12},
		{[]span{day}, []span{other}, -0.4, -0.4},
		{[]span{day}, []span{jan1}, 0.12, 0.12},
		{[]span{other}, spans("DOB 1960 to 1962"), -0.3, -0.3},
	} {
		if w, text := dateVerdict(c.a, c.b, true); w < c.min || w > c.max {
			t.Errorf("%v and %v: %.2f (%s), want %.2f to %.2f", c.a, c.b, w, text, c.min, c.max)
		}
	}
}

func TestIdentifiersInText(t *testing.T) {
	got := idsInText("DOB 1970; Passport W342058 (Tunisia) issued 2005; alt. Passport 9003213; NIT # 800018928-0 (Colombia); "+
		"Vessel Registration Identification IMO 7406784; Phone Number 982188526300; Executive Order 13224 information.", nil)
	want := []ident{{idPassport, "W342058", "tn"}, {idPassport, "9003213", ""}, {idTax, "8000189280", "co"}, {idIMO, "7406784", ""}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("identifier %d: %v, want %v", i, got[i], want[i])
		}
	}
	un := idsInText("Document: type Passport; number 6620505; country of issue Iran / unknown", nil)
	if len(un) != 1 || un[0] != (ident{idPassport, "6620505", "ir"}) {
		t.Errorf("UN document: %v", un)
	}
	if n := normNumber("Pakistani passport number AA3829182"); n != "AA3829182" {
		t.Errorf("number in a sentence: %q", n)
	}
	if n := normNumber("403062567 (US)"); n != "403062567" {
		t.Errorf("number with its country: %q", n)
	}
}

// pairOf scores two records as Pairs would, with evidence.
func pairOf(t *testing.T, recs ...*schema.Record) *Pair {
	t.Helper()
	ix, err := NewIndex()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := ix.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var out *Pair
	if _, err := ix.Pairs(PairOptions{MinScore: 0.01}, func(p *Pair) error {
		if out == nil {
			out = p
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func rec(id, typ string, props ...string) *schema.Record {
	r := &schema.Record{ID: id, Schema: typ, Properties: map[string][]string{}}
	for _, p := range props {
		k, v, _ := strings.Cut(p, "=")
		r.Properties[k] = append(r.Properties[k], v)
	}
	return r
}

func TestScores(t *testing.T) {
	for _, c := range []struct {
		name     string
		a, b     *schema.Record
		min, max float64
	}{
		{"shared passports, other names", rec("a", "Person", "name=AZIM AGHAJANI", "passportNumber=6620505", "passportNumber=9003213"),
			rec("b", "Person", "name=TABATABAEI, Sayyid Ali Akbar", "notes=Passport 6620505; alt. Passport 9003213."), 0.3, 0.55},
		{"shared passports, same name", rec("a", "Person", "name=ALI AKBAR TABATABAEI", "passportNumber=6620505"),
			rec("b", "Person", "name=TABATABAEI, Sayyid Ali Akbar", "notes=Passport 6620505; alt. Passport 9003213."), 0.95, 1},
		{"transliteration and a year", rec("a", "Person", "name=Dr. Ahmed al-Qadhafi", "birthDate=1942"),
			rec("b", "Person", "name=GADDAFI, Ahmad", "birthDate=1942-06-07"), 0.7, 0.8},
		{"brothers", rec("a", "Person", "name=AL-TIKRITI, Yasir Sabawi Ibrahim Hasan", "birthDate=1970"),
			rec("b", "Person", "name=AL-TIKRITI, Bashar Sabawi Ibrahim Hasan", "birthDate=1970-07-17"), 0, 0.65},
		{"other birth date", rec("a", "Person", "name=Ivan Petrov", "birthDate=1975-03-02"),
			rec("b", "Person", "name=Петров Иван", "birthDate=1980-11-20"), 0, 0.3},
		{"gender", rec("a", "Person", "name=Sasha Petrova", "birthDate=1975", "gender=female"),
			rec("b", "Person", "name=Sasha Petrova", "birthDate=1975", "gender=male"), 0, 0.6},
		{"kunya only", rec("a", "Person", "name=Jaber al-Jalamah", "alias=ABU MUHAMMAD", "birthDate=1959"),
			rec("b", "Person", "name=Abd al-Rahman al-Qaduli", "alias=Abu Muhammad", "birthDate=1959"), 0, 0.69},
		{"organisation, legal form", rec("a", "Company", "name=DCB FINANCE LIMITED"), rec("b", "Organization", "name=DCB Finance Ltd"), 0.85, 0.85},
		{"sister companies", rec("a", "Company", "name=TAMYNA AG"), rec("b", "Company", "name=TAMYNA FZE"), 0, 0.6},
		{"numbered companies", rec("a", "Company", "name=RIM GROUP INVESTMENTS I CORP."), rec("b", "Company", "name=RIM GROUP INVESTMENTS II CORP."), 0, 0.35},
		{"a numbered company", rec("a", "Company", "name=TINDAYA PROPERTIES OF NEW YORK CORP."),
			rec("b", "Company", "name=TINDAYA PROPERTIES OF NEW YORK II CORP."), 0, 0.35},
		{"vessels by IMO", rec("a", "Vehicle", "name=CHONG CHON GANG", "imoNumber=IMO 7937317"),
			rec("b", "Vehicle", "name=CHONGCHONGANG", "notes=Vessel Registration Identification IMO 7937317."), 0.9, 1},
		{"vessels, other IMO", rec("a", "Vehicle", "name=OCEAN STAR", "imoNumber=9123456"),
			rec("b", "Vehicle", "name=OCEAN STAR", "imoNumber=9654321"), 0, 0.1},
	} {
		p := pairOf(t, c.a, c.b)
		score := 0.0
		if p != nil {
			score = p.Score
		}
		if testing.Verbose() {
			t.Logf("%s: %.2f", c.name, score)
		}
		if score < c.min || score > c.max {
			t.Errorf("%s: score %.2f, want %.2f to %.2f; evidence %v", c.name, score, c.min, c.max, p)
		}
	}
}

func TestReferentsAndJudgements(t *testing.T) {
	a := rec("NK-1", "Person", "name=Maria Osetrova")
	a.Extra = map[string][]byte{"referents": []byte(`["ofac-46001","gb-hmt-1"]`)}
	b := rec("ofac-46001", "Person", "name=Someone Else Entirely")
	if p := pairOf(t, a, b); p == nil || p.Score != 1 || p.Evidence[0].Kind != "referents" {
		t.Errorf("referents: %+v", p)
	}
	c, d := rec("c", "Person", "name=Ivan Petrov", "birthDate=1975"), rec("d", "Person", "name=Petrov Ivan", "birthDate=1975")
	no, err := NewJudgement("d", "c", NotSame, "father and son")
	if err != nil {
		t.Fatal(err)
	}
	no.Version.Props = map[string]string{"role": "KZ-NCB:1"}
	if p := pairOf(t, c, d, no); p != nil {
		t.Errorf("a pair judged not same is reported: %+v", p)
	}
	yes, _ := NewJudgement("c", "x", Same, "")
	if yes.ID != JudgementID("x", "c") || yes.Properties["subject"][0] != "c" {
		t.Errorf("judgement id or ends depend on order: %+v", yes)
	}
	x := rec("x", "Person", "name=Nobody Alike")
	if p := pairOf(t, c, x, yes); p == nil || p.Score != 1 || p.Judgement == nil || p.Judgement.Verdict != Same {
		t.Errorf("a pair judged same is not reported with score 1: %+v", p)
	}
	if _, err := NewJudgement("c", "c", Same, ""); err == nil {
		t.Error("a record judged against itself")
	}
}

func TestIncoming(t *testing.T) {
	ix, _ := NewIndex()
	ix.Add(rec("h1", "Person", "name=Ivan Petrov", "birthDate=1975-03-02"))
	ix.Add(rec("h2", "Person", "name=Petrov Ivan", "birthDate=1975-03-02"))
	ix.AddIncoming(rec("n1", "Person", "name=Иван Петров", "birthDate=1975-03-02"))
	var got []string
	st, err := ix.Pairs(PairOptions{OnlyIncoming: true}, func(p *Pair) error {
		got = append(got, p.A.ID+"~"+p.B.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Pairs != 2 || strings.Join(got, " ") != "h1~n1 h2~n1" {
		t.Errorf("incoming pairs %v (stats %+v), want h1~n1 h2~n1", got, st)
	}
}
