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
	Minor = 1
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

//go:generate go run ./internal/ftmgen -in ../../shared/data/ftm-schema -version 3.8.4 -out ftm_gen.go

// ftmSchema and ftmProp are the rows of the generated model (ftm_gen.go):
// the facts of FollowTheMoney's schema definition, as it states them.
type ftmSchema struct {
	Name       string
	Extends    []string
	Abstract   bool
	Deprecated bool
	Required   []string
	Edge       *ftmEdge
	Props      []ftmProp // own properties, sorted by name
}

type ftmEdge struct {
	Source, Target string
	Directed       bool
}

type ftmProp struct {
	Name       string
	Type       string
	Range      string // schema of the records an entity property names
	Reverse    string // the property of Range that points back
	Stub       bool   // the reverse of another schema's property
	Deprecated bool
}

// Prop is a declared property.
type Prop struct {
	Name string
	Type PropType
	// Range is the schema that the records an entity property names must
	// be (or descend from): "Thing" admits any entity.
	Range string
	// Reverse names the property of Range that is this one seen from the
	// other end.
	Reverse string
	// Stub marks a reverse property: it exists to be navigated, FtM
	// refuses values in it, and so does Validate.
	Stub       bool
	Deprecated bool // still valid; FtM discourages its use
}

// Schema is a declared record type.
type Schema struct {
	Name       string
	Extends    []string // the schemata it inherits from; none for the root Thing and Interval
	Abstract   bool     // may not be used directly by records
	Deprecated bool
	// Edge marks a schema that FtM draws as an edge between two records,
	// from its Source property to its Target property.
	Edge bool
	// Link marks a record that connects other records: an edge, or a
	// record that exists to say something about one other record
	// (Sanction.entity, Identification.holder: a concrete schema that is
	// no edge and requires exactly one entity property). Source and
	// Target name its ends (Target is "" for the latter). Importing
	// reports the ends that name no record held.
	Link   bool
	Source string
	Target string
	// Required are the properties a record of the schema must have. As
	// in FtM they are the schema's own list, not inherited: Thing
	// requires a name, Address (a Thing) does not; Vessel requires one
	// again.
	Required []string
	props    map[string]Prop
	parents  []*Schema
	mustHave []string // what Validate requires (see build)
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
	if s.Name == name {
		return true
	}
	for _, p := range s.parents {
		if p.IsA(name) {
			return true
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

var schemas = build(ftmSchemata)

// build makes the model from the generated rows: each schema gets the
// properties of all its ancestors, its own taking precedence, as FtM
// resolves them.
func build(rows []ftmSchema) map[string]*Schema {
	byName := make(map[string]*ftmSchema, len(rows))
	for i := range rows {
		byName[rows[i].Name] = &rows[i]
	}
	out := make(map[string]*Schema, len(rows))
	var make1 func(name string, depth int) *Schema
	make1 = func(name string, depth int) *Schema {
		if s, ok := out[name]; ok {
			return s
		}
		row, ok := byName[name]
		if !ok || depth > len(rows) {
			panic("schema: unknown or circular parent " + name)
		}
		s := &Schema{Name: name, Extends: row.Extends, Abstract: row.Abstract, Deprecated: row.Deprecated,
			props: map[string]Prop{}}
		for _, pn := range row.Extends {
			parent := make1(pn, depth+1)
			s.parents = append(s.parents, parent)
			for k, v := range parent.props {
				if _, ok := s.props[k]; !ok {
					s.props[k] = v
				}
			}
		}
		for _, p := range row.Props {
			s.props[p.Name] = Prop{Name: p.Name, Type: typeByName(p.Type), Range: p.Range, Reverse: p.Reverse,
				Stub: p.Stub, Deprecated: p.Deprecated}
		}
		s.Required = append([]string(nil), row.Required...)
		sort.Strings(s.Required)
		if e := row.Edge; e != nil {
			s.Edge, s.Source, s.Target = true, e.Source, e.Target
		}
		s.Link = s.Edge
		if !s.Edge && !s.Abstract {
			var ends []string
			for _, r := range s.Required {
				if s.props[r].Type == TypeEntity {
					ends = append(ends, r)
				}
			}
			if len(ends) == 1 {
				s.Link, s.Source = true, ends[0]
			}
		}
		// FtM enforces its required lists only on entities users create,
		// not on data it loads, and published data has Passports with a
		// holder and no number: a link, or a record about another record,
		// must have its ends; any other record all its required
		// properties.
		s.mustHave = s.Required
		if s.Link {
			s.mustHave = nil
			for _, r := range s.Required {
				if s.props[r].Type == TypeEntity {
					s.mustHave = append(s.mustHave, r)
				}
			}
		}
		out[name] = s
		return s
	}
	for _, r := range rows {
		make1(r.Name, 0)
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
