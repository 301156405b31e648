package sqlparse

import (
	"slices"
	"testing"
)

// TestAnalyzeRoutine: a body names its tables in any spelling and any form (a string of
// SQL, PL/pgSQL, BEGIN ATOMIC); dynamic SQL and other languages make it opaque.
func TestAnalyzeRoutine(t *testing.T) {
	for _, tc := range []struct {
		def    string
		tables []TableRef
		opaque bool
	}{
		{`CREATE FUNCTION public.f() RETURNS bigint LANGUAGE sql AS $$SELECT count(*) FROM public.notes$$`,
			[]TableRef{{Schema: "public", Name: "notes"}}, false},
		{`CREATE FUNCTION public.f() RETURNS bigint LANGUAGE sql AS $$SELECT count(*) FROM U&"\006eotes"$$`,
			[]TableRef{{Name: "notes"}}, false},
		{`CREATE FUNCTION public.f() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT count(*) FROM "public"."notes"; END`,
			[]TableRef{{Schema: "public", Name: "notes"}}, false},
		{`CREATE FUNCTION public.f() RETURNS bigint LANGUAGE sql RETURN (SELECT count(*) FROM notes)`,
			[]TableRef{{Name: "notes"}}, false},
		{`CREATE FUNCTION public.f() RETURNS SETOF text LANGUAGE sql AS $$WITH x AS (SELECT body FROM app.notes) SELECT * FROM x$$`,
			[]TableRef{{Schema: "app", Name: "notes"}}, false},
		{`CREATE FUNCTION public.f() RETURNS bigint LANGUAGE plpgsql AS $$DECLARE n bigint; r record;
			BEGIN n := (SELECT count(*) FROM public.notes); FOR r IN SELECT * FROM "Other" LOOP END LOOP;
			PERFORM 1 FROM logs; INSERT INTO audit VALUES (1); RETURN n; END$$`,
			[]TableRef{{Schema: "public", Name: "notes"}, {Name: "Other"}, {Name: "logs"}, {Name: "audit"}}, false},
		{`CREATE FUNCTION public.f() RETURNS void LANGUAGE plpgsql AS $$BEGIN EXECUTE 'DELETE FROM ' || 'notes'; END$$`, nil, true},
		{`CREATE FUNCTION public.f() RETURNS xml LANGUAGE sql AS $$SELECT query_to_xml('select * from notes', true, false, '')$$`, nil, true},
		{`CREATE FUNCTION public.f() RETURNS int LANGUAGE c AS 'lib', 'f'`, nil, true},
		{`CREATE PROCEDURE public.p() LANGUAGE sql AS $$DELETE FROM public.notes$$`, []TableRef{{Schema: "public", Name: "notes"}}, false},
		{`not a definition`, nil, true},
	} {
		got := AnalyzeRoutine(tc.def)
		if (got.Opaque != "") != tc.opaque {
			t.Errorf("%s: opaque %q, want opaque %v", tc.def, got.Opaque, tc.opaque)
		}
		if !tc.opaque && !slices.Equal(got.Tables, tc.tables) {
			t.Errorf("%s: tables %v, want %v", tc.def, got.Tables, tc.tables)
		}
	}
}
