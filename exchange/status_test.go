package exchange

import (
	"flag"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"valise/change"
	"valise/internal/officetest"
	"valise/internal/testenv"
	"valise/office"
	"valise/schema"
	"valise/store"
)

var statusHistories = flag.Int("status-histories", 12, "random histories for TestStatusMatchesPacks")

// TestStatusMatchesPacks guards the cheap status (issue 17): on the
// handling property test's random histories (3 to 5 offices, TLP red
// and amber+strict, releasable_to, not_releasable_to, H2/H3, links and
// passports naming other records, narrowings that recall, bundles lost
// and delivered late), after each step one office's store is copied,
// some of its own records are narrowed (not_releasable_to a peer, which
// recalls them from a peer that holds them) and some get a retain_until
// around a clock moved a few days on, and then:
//
//   - for every peer, what status counts (records waiting, recall stubs
//     waiting, withheld) is what a pack for that peer alone then sends
//     and withholds — status counts all peers in one pass, each pack
//     looks only at its own peer;
//   - the expired list (from the index of retain_until) is the list of
//     the records held past their retain_until, each decoded.
//
// -seed replays (history h runs with seed+h); -status-histories runs more.
func TestStatusMatchesPacks(t *testing.T) {
	if testing.Short() {
		t.Skip("short: the status property test runs in the full suite")
	}
	seed := testenv.Seed(t) % 1_000_000_000
	n := *statusHistories
	t.Logf("seed %d, %d histories (replay one: -seed N -status-histories 1)", seed, n)
	base := propTempDir(t)
	tmpl := filepath.Join(base, "templates")
	for n := 3; n <= len(propAgencies); n++ {
		for _, o := range officetest.Offices(t, filepath.Join(tmpl, fmt.Sprint(n)), propAgencies[:n]...) {
			o.Close()
		}
	}
	var c propCounts
	var sc statusCounts
	for h := 0; h < n; h++ {
		p := &propHist{t: t, seed: seed + int64(h), rng: rand.New(rand.NewSource(seed + int64(h))),
			dir: filepath.Join(base, fmt.Sprintf("h%d", h)), c: &c, tmpl: tmpl}
		p.afterStep = func(p *propHist) { p.checkStatus(&sc) }
		if !p.run() {
			t.FailNow()
		}
	}
	t.Logf("compared: %+v", sc)
	if n < 10 {
		t.Logf("fewer than 10 histories: the counts are not asserted")
		return
	}
	// About a third of what histories of several seeds gave:
	// the comparisons saw every kind of number.
	for _, m := range []struct {
		name     string
		got, per int // per: the minimum per 10 histories
	}{
		{"peers compared", sc.Peers, 150},
		{"records waiting", sc.Waiting, 100},
		{"recall stubs waiting", sc.Recalls, 5},
		{"records withheld", sc.Withheld, 120},
		{"expired records", sc.Expired, 15},
	} {
		if want := m.per * n / 10; m.got < want {
			t.Errorf("only %d %s in %d histories, want at least %d: the test lost its point", m.got, m.name, n, want)
		}
	}
}

// statusCounts counts what TestStatusMatchesPacks compared.
type statusCounts struct{ Peers, Waiting, Recalls, Withheld, Expired int }

// checkStatus compares status with packs at a copy of a random office.
func (p *propHist) checkStatus(sc *statusCounts) {
	i := p.rng.Intn(len(p.offs))
	me := p.names[i]
	home := filepath.Join(p.dir, fmt.Sprintf("status-%d-%s", p.step, me))
	if err := copyTree(home, p.offs[i].Home); err != nil {
		p.t.Fatal(err)
	}
	o, err := office.Open(home)
	if err != nil {
		p.fatalf("opening the copy of %s: %v", me, err)
	}
	defer o.Close()
	// Records of its own past their retain_until, or nearly, seen from a
	// clock a few days on.
	now := time.Now().AddDate(0, 0, p.rng.Intn(4))
	o.Now = func() time.Time { return now }
	var own []schema.Key
	err = o.Store.Each(store.Filter{}, func(r *schema.Record) error {
		if r.Origin == me && r.Recalled == nil {
			own = append(own, r.Key())
		}
		return nil
	})
	if err != nil {
		p.fatalf("%s: reading the copy: %v", me, err)
	}
	for _, k := range own {
		if p.rng.Intn(4) == 0 {
			// Narrowed: a peer that holds it gets its recall stub.
			a := p.names[p.rng.Intn(len(p.names))]
			if a != me {
				if _, err := change.Edit(o, k, []change.Op{{Kind: "add", Prop: "not_releasable_to", Value: a}}); err != nil {
					p.fatalf("%s: not_releasable_to %s of %s: %v", me, a, k, err)
				}
			}
		}
		if p.rng.Intn(3) == 0 {
			day := now.AddDate(0, 0, p.rng.Intn(7)-4).UTC().Format("2006-01-02")
			if _, err := change.Edit(o, k, []change.Op{{Kind: "set", Prop: "retain_until", Value: day}}); err != nil {
				p.fatalf("%s: retain_until %s of %s: %v", me, day, k, err)
			}
		}
	}

	st, err := Status(o)
	if err != nil {
		p.fatalf("%s: status: %v", me, err)
	}
	day := now.UTC().Format("2006-01-02")
	expired := []string{}
	err = o.Store.Each(store.Filter{}, func(r *schema.Record) error {
		if r.Handling.RetainUntil != "" && r.Handling.RetainUntil < day {
			expired = append(expired, r.ID)
		}
		return nil
	})
	if err != nil {
		p.fatalf("%s: reading the copy: %v", me, err)
	}
	if !slices.Equal(st.Expired, expired) {
		p.fatalf("%s: status lists expired %v, the records past retain_until %s are %v", me, st.Expired, day, expired)
	}
	sc.Expired += len(expired)

	ledger, err := o.Store.Ledger()
	if err != nil {
		p.fatalf("%s: ledger: %v", me, err)
	}
	for _, ps := range st.Peers {
		// What the last pack withheld still counts as withheld (status
		// adds it); the next pack withholds what changed since.
		last, lastWithheld := uint64(0), 0
		for _, e := range ledger {
			if e.Peer == ps.Peer && e.Direction == "sent" && e.Sequence > last {
				last, lastWithheld = e.Sequence, int(e.Withheld)
			}
		}
		rep, err := Pack(o, PackOptions{To: []string{ps.Peer}, Output: filepath.Join(home, "status-"+ps.Peer+".valise")})
		if err != nil {
			p.fatalf("%s: pack for %s: %v", me, ps.Peer, err)
		}
		if len(rep.Bundles) != 1 {
			p.fatalf("%s: pack for %s alone wrote %d bundles", me, ps.Peer, len(rep.Bundles))
		}
		b := rep.Bundles[0]
		withheld := 0
		for _, n := range rep.Withheld[ps.Peer] {
			withheld += n
		}
		got := fmt.Sprintf("%d waiting, %d recalls, %d withheld", ps.Waiting, ps.Recalls, ps.Withheld)
		want := fmt.Sprintf("%d waiting, %d recalls, %d withheld", int(b.Records)-b.Recalls, b.Recalls, withheld+lastWithheld)
		p.logf("%s: status for %s: %s; its pack: %s", me, ps.Peer, got, want)
		if got != want {
			p.fatalf("%s: status for %s says %s, a pack for it then does %s", me, ps.Peer, got, want)
		}
		sc.Peers++
		sc.Waiting += ps.Waiting
		sc.Recalls += ps.Recalls
		sc.Withheld += withheld
	}
}
