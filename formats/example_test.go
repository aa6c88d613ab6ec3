package formats_test

import (
	"fmt"
	"os"
	"strings"

	"valise/formats"
	"valise/schema"
)

func ExampleRead() {
	csv := "id,name,nationality,birthDate\n" +
		"P-1,Ivan Petrov;Ivan P.,KZ,1975-03\n" +
		"P-2,Anna Ivanova,KG,1975-13-01\n"
	res, err := formats.Read("people.csv", strings.NewReader(csv), formats.Options{
		Type:     "Person",
		Origin:   "KZ-NCB",
		Handling: schema.Handling{TLP: "amber"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Records {
		fmt.Println(r.ID, r.Properties["name"], r.Properties["nationality"])
	}
	for _, p := range res.Problems {
		fmt.Println(p)
	}
	// Output:
	// P-1 [Ivan Petrov Ivan P.] [kz]
	// people.csv:3: record P-2: property birthDate: value 1 "1975-13-01": not an ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD, optionally THH:MM[:SS])
}

func ExampleNewWriter() {
	w, _ := formats.NewWriter(os.Stdout, formats.FtM)
	w.Write(&schema.Record{ID: "P-1", Schema: "Person", Origin: "KZ-NCB",
		Properties: map[string][]string{"name": {"Ivan Petrov"}},
		Extra:      map[string][]byte{"datasets": []byte(`["kz_wanted"]`)}})
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"id":"P-1","schema":"Person","properties":{"name":["Ivan Petrov"]},"datasets":["kz_wanted"]}
}
