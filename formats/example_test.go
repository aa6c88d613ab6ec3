package formats_test

import (
	"fmt"
	"os"
	"strings"

	"valise/formats"
	"valise/schema"
)

func ExampleStream() {
	csv := "id,name,nationality,birthDate\n" +
		"P-1,Ivan Petrov;Ivan P.,KZ,1975-03\n" +
		"P-2,Anna Ivanova,KG,1975-13-01\n"
	opts := formats.Options{Type: "Person", Origin: "KZ-NCB", Handling: schema.Handling{TLP: "amber"}}
	_, err := formats.Stream("people.csv", strings.NewReader(csv), opts, func(it formats.Item) error {
		switch {
		case it.Record != nil:
			fmt.Println(it.Record.ID, it.Record.Properties["name"], it.Record.Properties["nationality"])
		case it.Problem != nil:
			fmt.Println(it.Problem)
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
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
