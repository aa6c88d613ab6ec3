package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Major and Minor are the schema version. Adding a type or a property bumps
// Minor; a change that makes old records invalid, or changes what a value
// means, bumps Major. Bundles carry "Major.Minor"; a reader refuses a bundle
// whose major version is not its own, and accepts a newer minor version only
// as far as every record in it validates against the types it knows.
const (
	Major = 1
	Minor = 0
)

// ModelVersion is the schema version string carried in bundle headers.
var ModelVersion = fmt.Sprintf("%d.%d", Major, Minor)

// CheckVersion reports whether records of schema version v can be read.
func CheckVersion(v string) error {
	maj, min, ok := strings.Cut(v, ".")
	if !ok || !digits(maj) || !digits(min) || len(maj) > 4 || len(min) > 4 ||
		(len(maj) > 1 && maj[0] == '0') || (len(min) > 1 && min[0] == '0') {
		return fmt.Errorf("malformed schema version %q", v)
	}
	if maj != fmt.Sprint(Major) {
		return fmt.Errorf("%w: bundle has schema version %s, this valise reads major version %d; upgrade valise", ErrSchemaVersion, v, Major)
	}
	return nil
}

// Prop is a declared property.
type Prop struct {
	Name string
	Type PropType
}

// Schema is a declared record type.
type Schema struct {
	Name     string
	Parent   string // "" for the root
	Abstract bool   // may not be used directly by records
	Link     bool   // an edge between two records: Source and Target name its ends
	Source   string // property naming the link's first end
	Target   string // property naming the link's second end
	Required []string
	props    map[string]Prop // own and inherited
}

// Props returns every property of s, own and inherited, sorted by name.
func (s *Schema) Props() []Prop {
	out := make([]Prop, 0, len(s.props))
	for _, p := range s.props {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Prop returns the declared property name of s.
func (s *Schema) Prop(name string) (Prop, bool) {
	p, ok := s.props[name]
	return p, ok
}

// IsA reports whether s is the type name or descends from it.
func (s *Schema) IsA(name string) bool {
	for t := s; t != nil; t = schemas[t.Parent] {
		if t.Name == name {
			return true
		}
		if t.Parent == "" {
			break
		}
	}
	return false
}

// Get returns the declared type called name.
func Get(name string) (*Schema, bool) {
	s, ok := schemas[name]
	return s, ok
}

// Names returns the names of every type records may use, sorted.
func Names() []string {
	var out []string
	for n, s := range schemas {
		if !s.Abstract {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// decl is one row of the model: a type, its parent and its own properties
// written as "name:type" ("name" alone is TypeString), required ones marked
// with a leading "!".
type decl struct {
	name, parent string
	abstract     bool
	link         [2]string // source and target property of a link type
	props        string
}

// model is the whole schema, in one place. Property names and inheritance
// follow FollowTheMoney so that its data imports without mapping.
var model = []decl{
	{name: "Thing", abstract: true, props: "name:name alias:name weakAlias:name previousName:name summary:text description:text " +
		"notes:text country:country sourceUrl:url topics:topic wikidataId:identifier address:string addressEntity:entity " +
		"program:string programId:identifier createdAt:date modifiedAt:date retrievedAt:date keywords:string"},
	{name: "Interval", abstract: true, props: "startDate:date endDate:date date:date summary:text description:text " +
		"recordId:identifier sourceUrl:url modifiedAt:date"},
	{name: "LegalEntity", parent: "Thing", props: "!name:name email:email phone:phone website:url legalForm:string incorporationDate:date " +
		"dissolutionDate:date taxNumber:identifier registrationNumber:identifier idNumber:identifier innCode:identifier " +
		"ogrnCode:identifier kppCode:identifier leiCode:identifier permId:identifier uniqueEntityId:identifier " +
		"jurisdiction:country mainCountry:country status:string sector:string classification:string opencorporatesUrl:url " +
		"unscId:identifier"},
	{name: "Person", parent: "LegalEntity", props: "title:string firstName:name secondName:name middleName:name fatherName:name " +
		"motherName:name lastName:name nameSuffix:name birthDate:date birthPlace:string birthCountry:country deathDate:date " +
		"position:string nationality:country citizenship:country passportNumber:identifier socialSecurityNumber:identifier " +
		"gender:gender ethnicity:string religion:string political:string education:string"},
	{name: "Organization", parent: "LegalEntity", props: "abbreviation:name"},
	{name: "Company", parent: "Organization", props: "capital:amount currency:currency ogrnCode:identifier vatCode:identifier " +
		"swiftBic:identifier"},
	{name: "Address", parent: "Thing", props: "full:string street:string street2:string city:string postalCode:identifier " +
		"postOfficeBox:string region:string state:string latitude:amount longitude:amount remarks:text"},
	{name: "Identification", parent: "Interval", props: "!holder:entity number:identifier type:string country:country " +
		"authority:string", link: [2]string{"holder", ""}},
	{name: "Passport", parent: "Identification", props: "passportNumber:identifier " +
		"surname:name givenName:name birthDate:date birthPlace:string gender:gender personalNumber:identifier"},
	{name: "BankAccount", parent: "Thing", props: "iban:iban accountNumber:identifier bankName:name bankAddress:string " +
		"swiftBic:identifier accountType:string currency:currency balance:amount openingDate:date closingDate:date holder:entity bank:entity"},
	{name: "CryptoWallet", parent: "Thing", props: "publicKey:identifier currency:string balance:amount holder:entity " +
		"creationDate:date privateKey:identifier"},
	{name: "Vehicle", parent: "Thing", props: "!name:name registrationNumber:identifier type:string model:string owner:entity operator:entity " +
		"buildDate:date registrationDate:date callSign:identifier flag:country tonnage:amount grossRegisteredTonnage:amount " +
		"imoNumber:identifier mmsi:identifier vesselType:string pastFlags:country ownerName:string"},
	{name: "Sanction", parent: "Interval", props: "!entity:entity authority:string authorityId:identifier unscId:identifier " +
		"program:string programId:identifier programUrl:url provisions:string status:string duration:string reason:text " +
		"country:country listingDate:date", link: [2]string{"entity", ""}},
	{name: "Note", parent: "Thing", props: "!name:name entity:entity"},
	{name: "Membership", parent: "Interval", props: "!member:entity !organization:entity role:string status:string",
		link: [2]string{"member", "organization"}},
	{name: "Directorship", parent: "Interval", props: "!director:entity !organization:entity role:string status:string",
		link: [2]string{"director", "organization"}},
	{name: "Ownership", parent: "Interval", props: "!owner:entity !asset:entity role:string percentage:string sharesCount:string " +
		"sharesValue:amount sharesCurrency:currency sharesType:string legalBasis:string ownershipType:string",
		link: [2]string{"owner", "asset"}},
	{name: "Payment", parent: "Interval", props: "!payer:entity !beneficiary:entity amount:amount currency:currency " +
		"amountUsd:amount amountEur:amount purpose:text sequenceNumber:identifier transactionNumber:identifier " +
		"programme:string payerAccount:entity beneficiaryAccount:entity namesMentioned:name",
		link: [2]string{"payer", "beneficiary"}},
	{name: "Family", parent: "Interval", props: "!person:entity !relative:entity relationship:string",
		link: [2]string{"person", "relative"}},
	{name: "Associate", parent: "Interval", props: "!person:entity !associate:entity relationship:string",
		link: [2]string{"person", "associate"}},
	{name: "UnknownLink", parent: "Interval", props: "!subject:entity !object:entity role:string",
		link: [2]string{"subject", "object"}},
}

var schemas = build(model)

func build(decls []decl) map[string]*Schema {
	out := make(map[string]*Schema, len(decls))
	for _, d := range decls {
		parent := out[d.parent]
		if d.parent != "" && parent == nil {
			panic("schema: " + d.name + " declared before its parent " + d.parent)
		}
		s := &Schema{Name: d.name, Parent: d.parent, Abstract: d.abstract, props: map[string]Prop{}}
		req := map[string]bool{}
		if parent != nil {
			for k, v := range parent.props {
				s.props[k] = v
			}
			for _, r := range parent.Required {
				req[r] = true
			}
			s.Link, s.Source, s.Target = parent.Link, parent.Source, parent.Target
		}
		if d.link[0] != "" {
			s.Link, s.Source, s.Target = true, d.link[0], d.link[1]
		}
		for _, f := range strings.Fields(d.props) {
			required := strings.HasPrefix(f, "!")
			f = strings.TrimPrefix(f, "!")
			name, typ, _ := strings.Cut(f, ":")
			t := TypeString
			if typ != "" {
				t = typeByName(typ)
			}
			s.props[name] = Prop{Name: name, Type: t}
			if required {
				req[name] = true
			}
		}
		for r := range req {
			s.Required = append(s.Required, r)
		}
		sort.Strings(s.Required)
		out[d.name] = s
	}
	return out
}

func typeByName(n string) PropType {
	for i, tn := range typeNames {
		if tn == n {
			return PropType(i)
		}
	}
	panic("schema: unknown property type " + n)
}
