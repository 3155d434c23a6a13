package recipe

import (
	"os"
	"strings"
	"testing"
	_ "time/tzdata" // Europe/Paris in cast tests, whatever the machine

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

type applyCase struct {
	name   string
	in     *dataset.Frame // base() when nil
	recipe string
	want   string // show() of the result
	err    string // or: a fragment of the error
	not    string // a value the error must not show
}

func runApply(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in == nil {
				in = base()
			}
			out, err := apply(t, in, tc.recipe)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q; got\n%s", tc.err, show(out))
				}
				if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				if tc.not != "" && strings.Contains(err.Error(), tc.not) {
					t.Fatalf("error %q shows the value %q", err, tc.not)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := show(out); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestColumns(t *testing.T) {
	runApply(t, []applyCase{
		{name: "select", recipe: steps("select: [w, pid]"), want: rows(
			"w:float|pid:string:patient_id", "70|P1", "80.5|P1", "∅|P2", "55|P3")},
		{name: "select mapping", recipe: steps("select: {columns: [sex]}"), want: rows(
			"sex:string", "M", "F", "F", "∅")},
		{name: "select unknown", recipe: steps("select: [w, nope]"), err: `recipe step 1 (select): unknown column "nope" (columns: pid, h, w, sex, born, adm)`},
		{name: "drop", recipe: steps("drop: [h, w, born, adm]"), want: rows(
			"pid:string:patient_id|sex:string", "P1|M", "P1|F", "P2|F", "P3|∅")},
		{name: "drop unknown", recipe: steps("drop: [h]", "drop: [h]"), err: `recipe step 2 (drop): unknown column "h"`},
		{name: "drop all", recipe: steps("drop: [pid, h, w, sex, born, adm]"), err: "recipe step 1 (drop): would drop every column"},
		{name: "rename at once", recipe: steps("rename: {h: height, w: h}", "select: [height, h]"), want: rows(
			"height:integer|h:float", "170|70", "∅|80.5", "182|∅", "160|55")},
		{name: "swap", recipe: steps("rename: {h: w, w: h}", "select: [h, w]"), want: rows(
			"h:float|w:integer", "70|170", "80.5|∅", "∅|182", "55|160")},
		{name: "rename onto a column", recipe: steps("rename: {h: w}"), err: `recipe step 1 (rename): column "w" already exists`},
		{name: "rename unknown", recipe: steps("rename: {x: y}"), err: `recipe step 1 (rename): unknown column "x"`},
	})
}

func TestCast(t *testing.T) {
	in := frame(
		c("n", strs("12", " 7 ", "", nil)),
		c("x", strs("1,5", "2", "-0,25", "3.5")),
		c("d", strs("31/12/2020", "01/02/2021", " ", nil)),
		c("t", strs("2024-01-15 10:00:00", "2024-07-15T10:00:00", "2024-01-15T10:00:00+02:00", "2024-01-15")),
		c("b", strs("oui", "NON", "True", "0")),
	)
	runApply(t, []applyCase{
		{name: "integer to float", recipe: steps("cast: {column: h, to: float}", "select: [h]"), want: rows(
			"h:float", "170", "∅", "182", "160")},
		{name: "integer to string, role kept", recipe: steps("cast: {columns: [h, pid], to: string}", "select: [h, pid]"), want: rows(
			"h:string|pid:string:patient_id", "170|P1", "∅|P1", "182|P2", "160|P3")},
		{name: "float to integer", in: frame(c("f", floats(2.0, nil, -3.0))), recipe: steps("cast: {column: f, to: integer}"), want: rows(
			"f:integer", "2", "∅", "-3")},
		{name: "float to integer refuses fractions", recipe: steps("cast: {column: w, to: integer}"), err: `recipe step 1 (cast): row 2, column "w": value does not fit type integer`, not: "80.5"},
		{name: "text to integer, blanks missing", in: in, recipe: steps("cast: {column: n, to: integer}", "select: [n]"), want: rows(
			"n:integer", "12", "7", "∅", "∅")},
		{name: "decimal comma", in: in, recipe: steps("cast: {column: x, to: float, decimal: ','}", "select: [x]"), want: rows(
			"x:float", "1.5", "2", "-0.25", "3.5")},
		{name: "date format", in: in, recipe: steps("cast: {column: d, to: date, format: 02/01/2006}", "select: [d]"), want: rows(
			"d:date", "2020-12-31", "2021-02-01", "∅", "∅")},
		{name: "datetime in a time zone", in: in, recipe: steps("cast: {column: t, to: datetime, timezone: Europe/Paris}", "select: [t]"), want: rows(
			"t:datetime", "2024-01-15T09:00:00Z", "2024-07-15T08:00:00Z", "2024-01-15T08:00:00Z", "2024-01-14T23:00:00Z")},
		{name: "datetime to date", in: frame(c("t", datetimes("2024-01-15T23:30:00Z", nil))), recipe: steps("cast: {column: t, to: date}"), want: rows(
			"t:date", "2024-01-15", "∅")},
		{name: "datetime to date in a zone", in: frame(c("t", datetimes("2024-01-15T23:30:00Z"))), recipe: steps("cast: {column: t, to: date, timezone: Europe/Paris}"), want: rows(
			"t:date", "2024-01-16")},
		{name: "date to datetime", recipe: steps("cast: {column: adm, to: datetime}", "select: [adm]"), want: rows(
			"adm:datetime", "2020-02-29T00:00:00Z", "2021-02-28T00:00:00Z", "2022-01-01T00:00:00Z", "2020-12-31T00:00:00Z")},
		{name: "boolean words", in: in, recipe: steps("cast: {column: b, to: boolean}", "select: [b]"), want: rows(
			"b:boolean", "true", "false", "true", "false")},
		{name: "integer to boolean", in: frame(c("i", ints(0, 1, nil))), recipe: steps("cast: {column: i, to: boolean}"), want: rows(
			"i:boolean", "false", "true", "∅")},
		{name: "integer 2 is not a boolean", in: frame(c("i", ints(0, 2))), recipe: steps("cast: {column: i, to: boolean}"), err: `row 2, column "i": value does not fit type boolean`},
		{name: "boolean to integer", in: frame(c("b", bools(true, false))), recipe: steps("cast: {column: b, to: integer}"), want: rows(
			"b:integer", "1", "0")},
		{name: "text", in: frame(c("s", strs("a", nil))), recipe: steps("cast: {column: s, to: text}"), want: rows("s:text", "a", "∅")},
		{name: "bad text", in: in, recipe: steps("cast: {column: x, to: integer}"), err: `recipe step 1 (cast): row 1, column "x": value does not fit type integer`, not: "1,5"},
		{name: "bad date", in: in, recipe: steps("cast: {column: d, to: date}"), err: `row 1, column "d": value does not fit type date`, not: "31/12"},
		{name: "date to integer", recipe: steps("cast: {column: adm, to: integer}"), err: `recipe step 1 (cast): cannot cast column "adm" from date to integer`},
		{name: "unknown column", recipe: steps("cast: {column: nope, to: integer}"), err: `unknown column "nope"`},
	})
}

func TestConvert(t *testing.T) {
	lab := frame(
		c("glu", floats(90.0, 126.0, nil)),
		c("crea", floats(1.0, 0.7, 1.3)),
		c("chol", floats(5.0, 6.2, 4.1)),
		c("tg", ints(150, 200, nil)),
		c("urea", floats(30.0, 15.0, 45.0)),
		c("hb", floats(13.5, 9.8, nil)),
	)
	runApply(t, []applyCase{
		{name: "cm to m", recipe: steps("convert: {column: h, from: cm, to: m, as: height_m, digits: 2}", "select: [pid, height_m]"), want: rows(
			"pid:string:patient_id|height_m:float", "P1|1.7", "P1|∅", "P2|1.82", "P3|1.6")},
		{name: "in place, no rounding", in: frame(c("l", floats(1.5, nil))), recipe: steps("convert: {column: l, from: m, to: mm}"), want: rows(
			"l:float", "1500", "∅")},
		{name: "keep", recipe: steps("convert: {column: w, from: kg, to: g, as: w_g, keep: true}", "select: [h, w, w_g, sex]"), want: rows(
			"h:integer|w:float|w_g:float|sex:string", "170|70|70000|M", "∅|80.5|80500|F", "182|∅|∅|F", "160|55|55000|∅")},
		{name: "pounds and inches", in: frame(c("lb", floats(154.3234, 220.0)), c("in", ints(70, 65))), recipe: steps(
			"convert: {column: lb, from: lb, to: kg, digits: 1}", "convert: {column: in, from: in, to: cm, digits: 1}"), want: rows(
			"lb:float|in:float", "70|177.8", "99.8|165.1")},
		{name: "zero digits", in: frame(c("l", floats(1.5, 2.5, 0.4))), recipe: steps("convert: {column: l, from: m, to: m, digits: 0}"), want: rows(
			"l:float", "2", "2", "0")},
		{name: "lab units", in: lab, recipe: steps(
			"convert: {column: glu, analyte: glucose, from: mg/dL, to: mmol/L, digits: 2}",
			"convert: {column: crea, analyte: creatinine, from: mg/dL, to: µmol/L, digits: 2}",
			"convert: {column: chol, analyte: cholesterol, from: mmol/L, to: mg/dL, digits: 2}",
			"convert: {column: tg, analyte: triglycerides, from: mg/dl, to: mmol/l, digits: 2}",
			"convert: {column: urea, analyte: urea, from: mg/dL, to: mmol/L, digits: 2}",
			"convert: {column: hb, from: g/dL, to: g/L}"), want: rows(
			"glu:float|crea:float|chol:float|tg:float|urea:float|hb:float",
			"5|88.42|193.35|1.69|5|135",
			"6.99|61.89|239.75|2.26|2.5|98",
			"∅|114.95|158.55|∅|7.49|∅")},
		{name: "creatinine back", in: frame(c("crea", floats(88.42, 61.9))), recipe: steps("convert: {column: crea, analyte: creatinine, from: umol/L, to: mg/dL, digits: 2}"), want: rows(
			"crea:float", "1", "0.7")},
		{name: "too large", in: frame(c("x", floats(1.0, 1e308))), recipe: steps("convert: {column: x, from: kg, to: g}"), err: `recipe step 1 (convert): row 2, column "x": the converted value is too large`},
		{name: "not a number", recipe: steps("convert: {column: sex, from: cm, to: m}"), err: `recipe step 1 (convert): column "sex" is string, not a number (cast it first)`},
		{name: "as taken", recipe: steps("convert: {column: h, from: cm, to: m, as: w}"), err: `recipe step 1 (convert): column "w" already exists`},
		{name: "unknown column", recipe: steps("convert: {column: nope, from: cm, to: m}"), err: `recipe step 1 (convert): unknown column "nope"`},
	})
}

func TestRecode(t *testing.T) {
	codes := frame(c("code", ints(1, 2, 9, nil)))
	runApply(t, []applyCase{
		{name: "map, others missing", recipe: steps("recode: {column: sex, map: {M: male, F: female}}", "select: [sex]"), want: rows(
			"sex:string", "male", "female", "female", "∅")},
		{name: "default", in: frame(c("s", strs("M", "X", nil))), recipe: steps("recode: {column: s, map: {M: male}, default: other}"), want: rows(
			"s:string", "male", "other", "∅")},
		{name: "keep unmapped, map to missing", in: codes, recipe: steps("recode: {column: code, map: {9: ~}, keep_unmapped: true}"), want: rows(
			"code:integer", "1", "2", "∅", "∅")},
		{name: "integer to labels", in: codes, recipe: steps("recode: {column: code, map: {1: yes, 2: no}, as: answer}"), want: rows(
			"answer:string", "yes", "no", "∅", "∅")},
		{name: "labels to integers", recipe: steps("recode: {column: sex, map: {M: 1, F: 2}, type: integer, as: sex_code, keep: true}", "select: [sex, sex_code]"), want: rows(
			"sex:string|sex_code:integer", "M|1", "F|2", "F|2", "∅|∅")},
		{name: "float keys", in: frame(c("f", floats(1.0, 2.5))), recipe: steps("recode: {column: f, map: {'1.0': one, '2.50': two and a half}}"), want: rows(
			"f:string", "one", "two and a half")},
		{name: "unmapped into another type", in: frame(c("s", strs("1", "x"))), recipe: steps("recode: {column: s, map: {'1': 10}, keep_unmapped: true, type: integer}"), err: `recipe step 1 (recode): row 2, column "s": unmapped value does not fit type integer`, not: `"x"`},
		{name: "value does not fit", in: codes, recipe: steps("recode: {column: code, map: {1: yes}, keep_unmapped: true}"), err: `map value "yes" does not fit type integer (set type)`},
		{name: "key does not fit", in: codes, recipe: steps("recode: {column: code, map: {one: 1}}"), err: `map key "one" does not fit column "code" of type integer`},
		{name: "same key twice for the type", in: codes, recipe: steps("recode: {column: code, map: {'1': a, '01': b}}"), err: `map key "01" repeats another key for type integer`},
		{name: "default does not fit", in: codes, recipe: steps("recode: {column: code, map: {1: 2}, default: x, type: integer}"), err: `default "x" does not fit type integer`},
	})
}

func TestDerive(t *testing.T) {
	runApply(t, []applyCase{
		{name: "bmi", recipe: steps(`derive: {name: bmi, expr: "round(w / (h / 100) ** 2 * 10) / 10"}`, "select: [bmi]"), want: rows(
			"bmi:float", "24.2", "∅", "∅", "21.5")},
		{name: "integer inferred", recipe: steps(`derive: {name: h2, expr: h * 2, role: target}`, "select: [h2]"), want: rows(
			"h2:integer:target", "340", "∅", "364", "320")},
		{name: "boolean inferred", recipe: steps(`derive: {name: male, expr: sex == "M"}`, "select: [male]"), want: rows(
			"male:boolean", "true", "false", "false", "∅")},
		{name: "string inferred", recipe: steps(`derive: {name: s, expr: "lower(sex) + pid"}`, "select: [s]"), want: rows(
			"s:string", "mP1", "fP1", "fP2", "∅")},
		{name: "dates", recipe: steps(`derive: {name: next, expr: "adm.AddDate(0, 0, 1)", type: date}`, `derive: {name: year, expr: adm.Year()}`, "select: [next, year]"), want: rows(
			"next:date|year:integer", "2020-03-01|2020", "2021-03-01|2021", "2022-01-02|2022", "2021-01-01|2020")},
		{name: "datetime inferred", recipe: steps(`derive: {name: t, expr: "adm.Add(duration('36h'))"}`, "select: [t]"), want: rows(
			"t:datetime", "2020-03-01T12:00:00Z", "2021-03-01T12:00:00Z", "2022-01-02T12:00:00Z", "2021-01-01T12:00:00Z")},
		{name: "days between", recipe: steps(`derive: {name: d, expr: "(adm - born).Hours() / 24", type: integer}`, "select: [d]"), want: rows(
			"d:integer", "25567", "14975", "∅", "7305")},
		{name: "declared float from integers", recipe: steps(`derive: {name: x, expr: h + 1, type: float}`, "select: [x]"), want: rows(
			"x:float", "171", "∅", "183", "161")},
		{name: "missing passed", recipe: steps(`derive: {name: s, expr: 'sex ?? "U"', missing: pass}`, "select: [s]"), want: rows(
			"s:string", "M", "F", "F", "U")},
		{name: "awkward names", in: frame(c("taille cm", ints(170, 180))), recipe: steps(`derive: {name: m, expr: '$env["taille cm"] / 100'}`), want: rows(
			"taille cm:integer|m:float", "170|1.7", "180|1.8")},
		{name: "unknown column", recipe: steps(`derive: {name: x, expr: nope + 1}`), err: "recipe step 1 (derive): expression: unknown name nope"},
		{name: "now is not available", recipe: steps(`derive: {name: x, expr: now()}`), err: "unknown name now"},
		{name: "name taken", recipe: steps(`derive: {name: h, expr: w}`), err: `recipe step 1 (derive): column "h" already exists`},
		{name: "type mismatch", recipe: steps(`derive: {name: x, expr: h + sex}`), err: "recipe step 1 (derive): expression: invalid operation"},
		{name: "duration", recipe: steps(`derive: {name: x, expr: adm - born}`), err: "the expression gives a duration"},
		{name: "unknown result type", recipe: steps(`derive: {name: x, expr: 'h > 0 ? h : "none"'}`), err: "cannot tell the type of the expression's result (interface {}): declare type"},
		{name: "computed names read every column", recipe: steps(`derive: {name: x, expr: '$env[pid == "" ? "h" : "sex"]', type: string}`, "select: [x]"), want: rows(
			"x:string", "M", "∅", "∅", "∅")},
		{name: "not finite", recipe: steps(`derive: {name: x, expr: w / 0}`), err: "recipe step 1 (derive): row 1: the result does not fit type float (or is not finite)"},
		{name: "does not fit", recipe: steps(`derive: {name: x, expr: w, type: integer}`), err: "row 2: the result does not fit type integer", not: "80.5"},
		{name: "runtime failure hides values", recipe: steps(`derive: {name: x, expr: 'int(pid)', type: integer}`), err: "recipe step 1 (derive): row 1: the expression failed", not: "P1"},
	})
}

func TestFilter(t *testing.T) {
	runApply(t, []applyCase{
		{name: "missing rows dropped", recipe: steps("filter: h > 165", "select: [pid, h]"), want: rows(
			"pid:string:patient_id|h:integer", "P1|170", "P2|182")},
		{name: "mapping form", recipe: steps(`filter: {expr: 'sex == "F"'}`, "select: [pid]"), want: rows(
			"pid:string:patient_id", "P1", "P2")},
		{name: "missing rows kept", recipe: steps("filter: {expr: h > 165, missing: keep}", "select: [pid]"), want: rows(
			"pid:string:patient_id", "P1", "P1", "P2")},
		{name: "missing passed", recipe: steps("filter: {expr: h == nil || h < 165, missing: pass}", "select: [pid]"), want: rows(
			"pid:string:patient_id", "P1", "P3")},
		{name: "to nothing", recipe: steps("filter: h > 1000"), want: rows(
			"pid:string:patient_id|h:integer|w:float|sex:string|born:date|adm:date")},
		{name: "positions after a filter are the input's", recipe: steps("filter: h > 165", "not_null: [w]"), err: `recipe step 2 (not_null): check failed: column "w" is missing in row 3`},
		{name: "not a condition", recipe: steps("filter: h + 1"), err: "recipe step 1 (filter): expression: expected bool"},
		{name: "unknown column", recipe: steps("filter: nope > 1"), err: "unknown name nope"},
		{name: "runtime failure", recipe: steps("filter: {expr: h > 1, missing: pass}"), err: "recipe step 1 (filter): row 2: the expression failed"},
	})
}

func TestImpute(t *testing.T) {
	runApply(t, []applyCase{
		{name: "mean float", recipe: steps("impute: {column: w, method: mean}", "select: [w]"), want: rows(
			"w:float", "70", "80.5", "68.5", "55")},
		{name: "mean integer rounds", recipe: steps("impute: {column: h, method: mean}", "select: [h]"), want: rows(
			"h:integer", "170", "171", "182", "160")},
		{name: "median", recipe: steps("impute: {columns: [h, w], method: median}", "select: [h, w]"), want: rows(
			"h:integer|w:float", "170|70", "170|80.5", "182|70", "160|55")},
		{name: "median even", in: frame(c("i", ints(1, 2, nil)), c("f", floats(1.0, 2.0, nil))), recipe: steps("impute: {columns: [i, f], method: median}"), want: rows(
			"i:integer|f:float", "1|1", "2|2", "2|1.5")},
		{name: "median date", recipe: steps("impute: {column: born, method: median}", "select: [born]"), want: rows(
			"born:date", "1950-03-01", "1980-02-29", "1980-02-29", "2000-12-31")},
		{name: "mode, ties to the first seen", in: frame(c("s", strs("b", "a", "a", "b", nil))), recipe: steps("impute: {column: s, method: mode}"), want: rows(
			"s:string", "b", "a", "a", "b", "b")},
		{name: "constant", recipe: steps("impute: {column: sex, method: constant, value: U}", "impute: {column: born, method: constant, value: 1900-01-01}", "select: [sex, born]"), want: rows(
			"sex:string|born:date", "M|1950-03-01", "F|1980-02-29", "F|1900-01-01", "U|2000-12-31")},
		{name: "NaN is missing", in: frame(c("f", floats(2.0, nanf()))), recipe: steps("impute: {column: f, method: constant, value: 0}"), want: rows(
			"f:float", "2", "0")},
		{name: "mean of text", recipe: steps("impute: {column: sex, method: mean}"), err: `recipe step 1 (impute): method mean needs a numeric, date or datetime column; "sex" is string`},
		{name: "constant does not fit", recipe: steps("impute: {column: h, method: constant, value: tall}"), err: `value "tall" does not fit column "h" of type integer`},
		{name: "nothing observed", in: frame(c("f", floats(nil, nil))), recipe: steps("impute: {column: f, method: median}"), err: `column "f" has no values to take the median of`},
	})
}

func TestBin(t *testing.T) {
	ages := frame(c("age", ints(5, 18, 64, 65, nil, -1, 120)))
	runApply(t, []applyCase{
		{name: "edges and labels", in: ages, recipe: steps("bin: {column: age, edges: [0, 18, 65, .inf], labels: [child, adult, senior]}"), want: rows(
			"age:string", "child", "adult", "adult", "senior", "∅", "∅", "senior")},
		{name: "default labels, last bin closed", in: frame(c("x", floats(0.0, 10.0, 20.0, 25.0, 9.99))), recipe: steps("bin: {column: x, edges: [0, 10, 20], as: band, keep: true}"), want: rows(
			"x:float|band:string", "0|[0, 10)", "10|[10, 20]", "20|[10, 20]", "25|∅", "9.99|[0, 10)")},
		{name: "infinite edges", in: frame(c("x", floats(-5.0, 0.0, 1e300))), recipe: steps("bin: {column: x, edges: [-.inf, 0, .inf]}"), want: rows(
			"x:string", "[-inf, 0)", "[0, inf]", "[0, inf]")},
		{name: "quantiles", in: frame(c("x", ints(4, 1, 3, 2, nil))), recipe: steps("bin: {column: x, quantiles: 2}"), want: rows(
			"x:string", "Q2", "Q1", "Q2", "Q1", "∅")},
		{name: "quantiles labelled", in: frame(c("x", floats(1.0, 2.0, 3.0))), recipe: steps("bin: {column: x, quantiles: 3, labels: [low, mid, high], as: level}"), want: rows(
			"level:string", "low", "mid", "high")},
		{name: "not numeric", recipe: steps("bin: {column: sex, edges: [0, 1]}"), err: `recipe step 1 (bin): column "sex" is string, not a number`},
		{name: "nothing observed", in: frame(c("x", floats(nil))), recipe: steps("bin: {column: x, quantiles: 4}"), err: `column "x" has no values to take quantiles of`},
	})
}

func TestOneHot(t *testing.T) {
	runApply(t, []applyCase{
		{name: "observed categories, in place", recipe: steps("one_hot: {column: sex}", "select: [h, sex_F, sex_M, w]"), want: rows(
			"h:integer|sex_F:integer|sex_M:integer|w:float", "170|0|1|70", "∅|1|0|80.5", "182|1|0|∅", "160|∅|∅|55")},
		{name: "numeric order", in: frame(c("n", ints(10, 2, 2, 1))), recipe: steps("one_hot: {column: n, prefix: code}"), want: rows(
			"code_1:integer|code_2:integer|code_10:integer", "0|0|1", "0|1|0", "0|1|0", "1|0|0")},
		{name: "fixed categories, kept, role kept", in: frame(cr("s", dataset.RoleQuasiIdentifier, strs("M", "X"))), recipe: steps("one_hot: {column: s, categories: [M, F], keep: true}"), want: rows(
			"s:string:quasi_identifier|s_M:integer:quasi_identifier|s_F:integer:quasi_identifier", "M|1|0", "X|0|0")},
		{name: "booleans", in: frame(c("b", bools(true, false))), recipe: steps("one_hot: {column: b}"), want: rows(
			"b_false:integer|b_true:integer", "0|1", "1|0")},
		{name: "too many categories", recipe: steps("one_hot: {column: sex, max_categories: 1}"), err: `recipe step 1 (one_hot): column "sex" has more than max_categories (1) distinct values`},
		{name: "patient identifiers refused", recipe: steps("one_hot: {column: pid}"), err: `column "pid" has role patient_id, type string: one-hot encoding would write its values into column names`},
		{name: "free text refused", in: frame(c("note", texts("a"))), recipe: steps("one_hot: {column: note}"), err: "one-hot encoding would write its values into column names"},
		{name: "floats refused", recipe: steps("one_hot: {column: w}"), err: `column "w" is float: one-hot encoding takes string, integer or boolean columns`},
		{name: "collision", in: frame(c("s", strs("a", "b")), c("s_b", ints(1, 2))), recipe: steps("one_hot: {column: s}"), err: "the indicator column of category 2 collides with another column (set prefix)"},
		{name: "category does not fit", in: frame(c("n", ints(1))), recipe: steps("one_hot: {column: n, categories: [x]}"), err: `category "x" does not fit column "n" of type integer`},
	})
}

func TestAge(t *testing.T) {
	runApply(t, []applyCase{
		{name: "age at admission", recipe: steps("age: {from: born, to: adm, name: age}", "select: [age]"), want: rows(
			"age:integer:quasi_identifier", "69", "40", "∅", "20")},
		{name: "days to a fixed date", recipe: steps("age: {from: adm, at: 2021-01-01, unit: days, name: d, role: feature}", "select: [d]"), want: rows(
			"d:integer", "307", "-58", "-365", "1")},
		{name: "leap day birthday", in: frame(c("b", dates("2000-02-29", "2000-02-29", "2000-02-29")), c("e", dates("2001-02-28", "2001-03-01", "2004-02-29"))), recipe: steps("age: {from: b, to: e, name: a}", "select: [a]"), want: rows(
			"a:integer:quasi_identifier", "0", "1", "4")},
		{name: "backwards", in: frame(c("b", dates("2000-06-15", "2000-06-15")), c("e", dates("1998-06-16", "1998-06-15"))), recipe: steps("age: {from: b, to: e, name: a}", "select: [a]"), want: rows(
			"a:integer:quasi_identifier", "-1", "-2")},
		{name: "datetimes", in: frame(c("b", datetimes("1990-05-01T23:00:00Z")), c("e", datetimes("2020-05-01T01:00:00Z"))), recipe: steps("age: {from: b, to: e, name: a}", "select: [a]"), want: rows(
			"a:integer:quasi_identifier", "30")},
		{name: "not a date", recipe: steps("age: {from: sex, to: adm, name: a}"), err: `recipe step 1 (age): column "sex" is string, not a date (cast it first)`},
		{name: "name taken", recipe: steps("age: {from: born, to: adm, name: h}"), err: `column "h" already exists`},
	})
}

func nanf() float64 { z := 0.0; return z / z }

func TestChecks(t *testing.T) {
	many := dataset.NewVec(dataset.TypeInteger, 30)
	for i := range 30 {
		if i%6 == 5 {
			many.AppendInt(int64(i))
		} else {
			many.AppendNull()
		}
	}
	runApply(t, []applyCase{
		{name: "all pass", recipe: steps("not_null: [pid, adm]", "range: {column: h, min: 150, max: 200}", "range: {column: adm, min: 2020-01-01}",
			"unique: [pid, adm]", "allowed: {column: sex, values: [M, F]}", "allowed: {column: h, values: [160, 170, 182]}", "row_count: {min: 4, max: 4}", "select: [pid]"), want: rows(
			"pid:string:patient_id", "P1", "P1", "P2", "P3")},
		{name: "not_null", recipe: steps("not_null: [pid, w, sex]"), err: `recipe step 1 (not_null): check failed: column "w" is missing in row 3; column "sex" is missing in row 4`},
		{name: "not_null, many rows", in: frame(c("x", many)), recipe: steps("not_null: {column: x}"), err: `column "x" is missing in rows 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, … (25 rows in all)`},
		{name: "NaN is missing", in: frame(c("f", floats(1.0, nanf()))), recipe: steps("not_null: [f]"), err: `column "f" is missing in row 2`},
		{name: "range", recipe: steps("range: {column: h, min: 165, max: 200}"), err: `recipe step 1 (range): check failed: column "h" is outside [165, 200] in row 4`, not: "160"},
		{name: "range max", recipe: steps("range: {column: w, max: 60}"), err: `column "w" is above 60 in rows 1, 2`},
		{name: "range min on dates", recipe: steps("range: {column: adm, min: 2021-01-01}"), err: `column "adm" is below 2021-01-01 in rows 1, 4`},
		{name: "range on datetimes", in: frame(c("t", datetimes("2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"))), recipe: steps("range: {column: t, max: '2024-01-02T00:00:00Z'}"), err: `column "t" is above 2024-01-02T00:00:00Z in row 2`},
		{name: "range bound does not fit", recipe: steps("range: {column: h, min: 2020-01-01}"), err: `min "2020-01-01" does not fit column "h" of type integer`},
		{name: "range on text", recipe: steps("range: {column: sex, min: 1}"), err: `column "sex" is string: range takes numbers, dates and datetimes`},
		{name: "unique", recipe: steps("unique: [pid]"), err: `recipe step 1 (unique): check failed: column "pid" not unique: rows 1, 2 share a value with another row`, not: "P1"},
		{name: "unique columns, missing never duplicates", in: frame(c("a", ints(1, 1, 2, nil, nil)), c("b", strs("x", "x", "x", "y", "y"))), recipe: steps("unique: {columns: [a, b]}"), err: `columns "a", "b" not unique: rows 1, 2 share`},
		{name: "allowed", recipe: steps("allowed: {column: sex, values: [M]}"), err: `recipe step 1 (allowed): check failed: column "sex" has a value not allowed in rows 2, 3`},
		{name: "allowed value does not fit", recipe: steps("allowed: {column: h, values: [tall]}"), err: `value "tall" does not fit column "h" of type integer`},
		{name: "row_count min", recipe: steps("row_count: {min: 5}"), err: "recipe step 1 (row_count): check failed: 4 rows, want at least 5"},
		{name: "row_count max", recipe: steps("filter: h > 0", "row_count: {max: 2}"), err: "recipe step 2 (row_count): check failed: 3 rows, want at most 2"},
		{name: "unknown column", recipe: steps("not_null: [nope]"), err: `recipe step 1 (not_null): unknown column "nope"`},
	})
}

func TestParseErrors(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"empty":                  {"", "recipe: empty"},
		"no steps":               {"name: x\n", "recipe: no steps"},
		"not a mapping":          {"- drop: [a]\n", "recipe: want a mapping with name and steps"},
		"unknown top field":      {"name: x\nstep: []\n", `recipe: unknown field "step" (fields: name, steps)`},
		"steps not a list":       {"steps: {drop: [a]}\n", "recipe: steps: want a list of steps"},
		"two documents":          {"steps:\n  - drop: [a]\n---\nsteps: []\n", "single YAML document"},
		"bad yaml":               {"steps: [\n", "recipe: "},
		"unknown step":           {steps("explode: {}"), `recipe step 1: unknown step "explode" (steps: select, drop`},
		"two kinds":              {steps("{drop: [a], rename: {a: b}}"), "recipe step 1: want exactly one step kind per step, got 2 (drop, rename)"},
		"bare word":              {steps("drop"), "recipe step 1: want a mapping with exactly one key"},
		"unknown field":          {steps("cast: {column: a, to: integer, color: red}"), `recipe step 1 (cast): unknown field "color" (fields: column, columns, to, format, timezone, decimal)`},
		"field twice":            {steps("cast: {column: a, column: b, to: integer}"), `field "column" given twice`},
		"wrong shape":            {steps("select: {columns: {a: b}}"), "recipe step 1 (select): line 3: cannot unmarshal !!map into []string"},
		"select nothing":         {steps("select: []"), "recipe step 1 (select): columns: at least one column is required"},
		"select twice":           {steps("select: [a, a]"), `column "a" given twice`},
		"drop null":              {steps("drop:"), "recipe step 1 (drop): columns: at least one column is required"},
		"rename to two":          {steps("rename: {a: c, b: c}"), `two columns renamed to "c"`},
		"rename empty":           {steps("rename: {}"), "rename: want a non-empty mapping"},
		"rename list":            {steps("rename: [a]"), "rename: want a non-empty mapping"},
		"cast no to":             {steps("cast: {column: a}"), "recipe step 1 (cast): to is required"},
		"cast unknown type":      {steps("cast: {column: a, to: money}"), `unknown type "money" (types: integer, float, boolean, date, datetime, string, text)`},
		"cast both":              {steps("cast: {column: a, columns: [b], to: float}"), "give column or columns, not both"},
		"cast none":              {steps("cast: {to: float}"), "column or columns is required"},
		"cast format type":       {steps("cast: {column: a, to: integer, format: '2006'}"), "format applies to casts to date or datetime"},
		"cast strftime":          {steps("cast: {column: a, to: date, format: '%d/%m/%Y'}"), "want a Go layout of the reference date"},
		"cast zone":              {steps("cast: {column: a, to: datetime, timezone: Mars/Olympus}"), `unknown time zone "Mars/Olympus"`},
		"cast decimal":           {steps("cast: {column: a, to: float, decimal: ';'}"), `decimal: want "." or ","`},
		"convert no column":      {steps("convert: {from: cm, to: m}"), "recipe step 1 (convert): column is required"},
		"convert unknown unit":   {steps("convert: {column: a, from: cm, to: parsec}"), `unknown unit "parsec" (units: m, cm`},
		"convert dimensions":     {steps("convert: {column: a, from: cm, to: kg}"), "cannot convert cm (length) to kg (mass)"},
		"convert needs analyte":  {steps("convert: {column: a, from: mg/dL, to: mmol/L}"), "converting mg/dL to mmol/L needs an analyte (cholesterol, creatinine, glucose, triglycerides, urea, urea_nitrogen)"},
		"convert analyte":        {steps("convert: {column: a, from: mg/dL, to: mmol/L, analyte: unobtainium}"), `unknown analyte "unobtainium"`},
		"convert analyte length": {steps("convert: {column: a, from: cm, to: m, analyte: glucose}"), "analyte applies to concentrations"},
		"convert mass to molar":  {steps("convert: {column: a, from: kg, to: mmol/L}"), "cannot convert kg (mass) to mmol/L (molar concentration)"},
		"convert digits":         {steps("convert: {column: a, from: cm, to: m, digits: -1}"), "digits: want 0 to 15"},
		"convert keep":           {steps("convert: {column: a, from: cm, to: m, keep: true}"), "keep needs as"},
		"recode no map":          {steps("recode: {column: a}"), "map is required"},
		"recode both":            {steps("recode: {column: a, map: {x: y}, default: z, keep_unmapped: true}"), "give default or keep_unmapped, not both"},
		"recode nested":          {steps("recode: {column: a, map: {x: [y]}}"), "map: want plain values"},
		"derive no name":         {steps("derive: {expr: a + 1}"), "recipe step 1 (derive): name is required"},
		"derive no expr":         {steps("derive: {name: x}"), "expr is required"},
		"derive syntax":          {steps(`derive: {name: x, expr: "a +"}`), "recipe step 1 (derive): expression: unexpected token EOF (1:3)"},
		"derive types":           {steps(`derive: {name: x, expr: "1 + 'a'"}`), "expression: invalid operation: + (mismatched types int and string)"},
		"derive role":            {steps("derive: {name: x, expr: a, role: boss}"), `unknown role "boss"`},
		"derive missing":         {steps("derive: {name: x, expr: a, missing: drop}"), "missing: want propagate or pass"},
		"filter syntax":          {steps("filter: a >"), "recipe step 1 (filter): expression: unexpected token EOF"},
		"filter not bool":        {steps("filter: 1 + 2"), "expression: expected bool, but got int"},
		"filter missing":         {steps("filter: {expr: a > 1, missing: maybe}"), "missing: want drop, keep or pass"},
		"impute method":          {steps("impute: {column: a, method: guess}"), `unknown method "guess"`},
		"impute no method":       {steps("impute: {column: a}"), "method is required"},
		"impute constant":        {steps("impute: {column: a, method: constant}"), "method constant needs value"},
		"impute value":           {steps("impute: {column: a, method: mean, value: 1}"), "value applies to method constant only"},
		"bin nothing":            {steps("bin: {column: a}"), "edges or quantiles is required"},
		"bin both":               {steps("bin: {column: a, edges: [1, 2], quantiles: 2}"), "give edges or quantiles, not both"},
		"bin order":              {steps("bin: {column: a, edges: [1, 1]}"), "edges: want increasing numbers"},
		"bin one edge":           {steps("bin: {column: a, edges: [1]}"), "edges: want at least 2"},
		"bin labels":             {steps("bin: {column: a, edges: [1, 2, 3], labels: [x]}"), "1 labels for 2 bins"},
		"bin quantiles":          {steps("bin: {column: a, quantiles: 1}"), "quantiles: want 2 to 100"},
		"one_hot max":            {steps("one_hot: {column: a, max_categories: -1}"), "max_categories: want 1 to 1000"},
		"one_hot categories":     {steps("one_hot: {column: a, categories: [x, x]}"), `categories: "x" given twice`},
		"one_hot too many":       {steps("one_hot: {column: a, categories: [x, y], max_categories: 1}"), "categories: want 1 to max_categories (1)"},
		"age no from":            {steps("age: {to: b, name: a}"), "from is required"},
		"age both":               {steps("age: {from: a, to: b, at: 2020-01-01, name: x}"), "give to (a column) or at (a date), one of them"},
		"age neither":            {steps("age: {from: a, name: x}"), "give to (a column) or at (a date), one of them"},
		"age at":                 {steps("age: {from: a, at: 01/01/2020, name: x}"), "at: want a date YYYY-MM-DD"},
		"age unit":               {steps("age: {from: a, to: b, name: x, unit: weeks}"), "unit: want years or days"},
		"age name":               {steps("age: {from: a, to: b}"), "name is required"},
		"split fractions":        {steps("split: {fractions: {train: 0.7, test: 0.2}}"), "fractions: must add up to 1, not 0.9"},
		"split no train":         {steps("split: {fractions: {test: 1}}"), "fractions: train is required and must be above 0"},
		"split negative":         {steps("split: {fractions: {train: 1.2, test: -0.2}}"), "fractions: train must be between 0 and 1"},
		"split NaN":              {steps("split: {fractions: {train: .nan, test: 1}}"), "fractions: train must be between 0 and 1"},
		"split fraction field":   {steps("split: {fractions: {train: 0.5, valid: 0.5}}"), `unknown field "fractions.valid" (fields: train, validation, test)`},
		"split mode":             {steps("split: {mode: clever, fractions: {train: 1}}"), `unknown mode "clever"`},
		"split grouped no by":    {steps("split: {mode: grouped, fractions: {train: 1}}"), "mode grouped needs by, the column to group by"},
		"split random by":        {steps("split: {by: a, fractions: {train: 1}}"), "by applies to modes stratified and grouped"},
		"split seed":             {steps("split: {seed: -1, fractions: {train: 1}}"), "recipe step 1 (split): line 3: cannot unmarshal"},
		"range no bounds":        {steps("range: {column: a}"), "min or max is required"},
		"range bound":            {steps("range: {column: a, min: low}"), `bound "low": want a number, a date or a datetime`},
		"range order":            {steps("range: {column: a, min: 10, max: 1}"), "min is above max"},
		"range date order":       {steps("range: {column: a, min: 2021-01-01, max: 2020-01-01}"), "min is above max"},
		"allowed nothing":        {steps("allowed: {column: a}"), "values is required"},
		"row_count nothing":      {steps("row_count: {}"), "min or max is required"},
		"row_count order":        {steps("row_count: {min: 3, max: 2}"), "min is above max"},
		"row_count negative":     {steps("row_count: {min: -3}"), "cannot be negative"},
		"later step":             {steps("drop: [a]", "select: [a]", "split: {}"), "recipe step 3 (split): fractions: train is required"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded (%d steps), want %q", len(r.Steps), tc.want)
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestApplyInput(t *testing.T) {
	r, err := Parse([]byte(steps("drop: [h]")))
	if err != nil {
		t.Fatal(err)
	}
	bad := base()
	bad.Columns[1].Type = dataset.TypeFloat
	dup := base()
	dup.Columns[1].Name = "pid"
	odd := frame(c("x", ints(1)))
	odd.Columns[0].Type, odd.Vecs[0].Type = "money", "money"
	for name, tc := range map[string]struct {
		f    *dataset.Frame
		want string
	}{
		"nil":          {nil, "recipe: no input"},
		"invalid":      {bad, `recipe input: column "h": vector of type integer, column of type float`},
		"duplicate":    {dup, `recipe input: duplicate column "pid"`},
		"unknown type": {odd, `recipe input: column "x" has unknown type "money"`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := r.Apply(tc.f); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := (&Recipe{Steps: []Step{{Kind: "drop"}}}).Apply(base()); err == nil || !strings.Contains(err.Error(), "not parsed") {
		t.Fatalf("unparsed step: %v", err)
	}
}

func TestAliasesAndShorthands(t *testing.T) {
	text := "name: aliases\ncols: &c [h, w]\nsteps:\n  - select: *c\n"
	if _, err := Parse([]byte(text)); err == nil || !strings.Contains(err.Error(), `unknown field "cols"`) {
		t.Fatalf("Parse = %v", err)
	}
	text = "name: aliases\nsteps:\n  - not_null: &c [h]\n  - select: *c\n"
	out, err := apply(t, base(), text)
	if err == nil || !strings.Contains(err.Error(), `column "h" is missing in row 2`) {
		t.Fatalf("Apply = %v, %v", out, err)
	}
}

// The example in docs/recipes.md is testdata/example.yaml: it parses,
// describes itself and runs.
func TestExample(t *testing.T) {
	text, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := os.ReadFile("../../docs/recipes.md"); err == nil && !strings.Contains(string(doc), string(text)) {
		t.Error("docs/recipes.md does not show testdata/example.yaml")
	}
	r, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != `recipe "cohort-features" (15 steps)` {
		t.Errorf("String = %s", got)
	}
	want := []string{
		"not_null patient_id, birth_date, admission_date",
		"range height_cm in [40, 250]",
		"allowed sex in {M, F}",
		"convert height_cm from cm to m as height_m, 2 digits",
		"convert glucose from mg/dL to mmol/L (glucose), 2 digits",
		"derive bmi = round(weight_kg / height_m ** 2 * 10) / 10 (float)",
		"age age = years from birth_date to admission_date",
		"filter age >= 18",
		"range bmi in [10, 80]",
		"impute glucose with the median",
		"bin age into 3 bins as age_band",
		"one_hot sex into 2 fixed categories",
		"drop birth_date",
		"row_count at least 3",
		"split train 0.7 / validation 0.15 / test 0.15, grouped by patient_id, seed 20240501, into split",
	}
	if got := r.Describe(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Describe =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	in := frame(
		cr("patient_id", dataset.RolePatientID, strs("P1", "P1", "P2", "P3", "P4")),
		cr("sex", dataset.RoleQuasiIdentifier, strs("M", "M", "F", "F", "M")),
		cr("birth_date", dataset.RoleQuasiIdentifier, dates("1950-03-01", "1950-03-01", "1980-02-29", "2010-01-01", "1990-07-14")),
		cr("admission_date", dataset.RoleDate, dates("2020-02-29", "2021-06-01", "2021-02-28", "2021-01-01", "2022-07-14")),
		c("height_cm", ints(170, 170, 165, 150, 182)),
		c("weight_kg", floats(70.0, 72.0, 60.0, 40.0, 90.0)),
		c("glucose", floats(90.0, nil, 126.0, 80.0, 100.0)),
	)
	out, err := apply(t, in, string(text))
	if err != nil {
		t.Fatal(err)
	}
	got := show(out)
	wantFrame := rows(
		"patient_id:string:patient_id|sex_M:integer:quasi_identifier|sex_F:integer:quasi_identifier|admission_date:date:date|height_m:float|weight_kg:float|glucose:float|bmi:float|age_band:string:quasi_identifier|split:string:other",
		"P1|1|0|2020-02-29|1.7|70|5|24.2|65+|",
		"P1|1|0|2021-06-01|1.7|72|5.55|24.9|65+|",
		"P2|0|1|2021-02-28|1.65|60|6.99|22|40-64|",
		"P4|1|0|2022-07-14|1.82|90|5.55|27.2|18-39|",
	)
	// The split column depends on the seed: compare the rest, then check
	// that patients are not split.
	var stripped []string
	for _, l := range strings.Split(got, "\n") {
		if i := strings.LastIndexByte(l, '|'); i >= 0 && !strings.HasPrefix(l, "patient_id:") {
			l = l[:i+1]
		}
		stripped = append(stripped, l)
	}
	if g := strings.Join(stripped, "\n"); g != wantFrame {
		t.Fatalf("got\n%s\nwant\n%s", got, wantFrame)
	}
	v := out.Vecs[len(out.Vecs)-1]
	if v.S[0] != v.S[1] {
		t.Errorf("patient P1 in two splits: %v", v.S)
	}
}
