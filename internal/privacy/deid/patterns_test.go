package deid

import (
	"fmt"
	"strings"
	"testing"
)

// ents returns "LABEL:text" for every entity found in s.
func ents(t *testing.T, d *Deidentifier, s string) []string {
	t.Helper()
	var out []string
	for _, e := range d.Detect(s) {
		out = append(out, e.Label.String()+":"+e.Text)
	}
	return out
}

func has(list []string, want string) bool {
	for _, x := range list {
		if x == want {
			return true
		}
	}
	return false
}

func testDeid(t testing.TB) *Deidentifier {
	t.Helper()
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNIRKey(t *testing.T) {
	for _, c := range []struct {
		nir   string
		valid bool
	}{
		{"1 43 11 75 605 433 12", true},
		{"150080127794880", true},
		{"2 86 04 2A 102 703 10", true}, // Corsica 2A counts as 19
		{"1 54 09 2A 638 775 09", true},
		{"2 79 07 2A 696 613 34", true},
		{"1 43 11 75 605 433 13", false}, // wrong key
		{"2 86 04 2A 102 703 11", false},
		{"150080127794881", false},
		{"2 86 04 2B 102 703 10", false}, // 2B counts as 18: another key
		{"2 86 04 2B 102 703 37", true},  // 97 − 2860418102703 mod 97
		{"5 43 11 75 605 433 12", false}, // no such sex digit
		{"1 43 13 75 605 433 12", false}, // month 13
	} {
		if got := NIRKeyValid(c.nir); got != c.valid {
			t.Errorf("NIRKeyValid(%q) = %v, want %v", c.nir, got, c.valid)
		}
	}
}

func TestPatterns(t *testing.T) {
	d := testDeid(t)
	for _, c := range []struct {
		name, text string
		want       []string // LABEL:text that must be found
		not        []string // substrings that must not be inside any entity
	}{
		{"nir spaced", "N° SS : 1 43 11 75 605 433 12", []string{"SECU:1 43 11 75 605 433 12"}, nil},
		{"nir compact", "NIR 150080127794880.", []string{"SECU:150080127794880"}, nil},
		{"nir corsica", "Assuré 2 86 04 2A 102 703 10", []string{"SECU:2 86 04 2A 102 703 10"}, nil},
		{"nir bad key without context", "Lot 150080127794881 reçu.", nil, []string{"150080127794881"}},
		{"nir bad key with context", "N° de sécurité sociale : 1 43 11 75 605 433 13", []string{"SECU:1 43 11 75 605 433 13"}, nil},
		{"tel spaces", "Tél 04 72 11 22 33.", []string{"TEL:04 72 11 22 33"}, nil},
		{"tel dots", "joindre au 01.35.58.81.46 ou", []string{"TEL:01.35.58.81.46"}, nil},
		{"tel dashes", "au 06-12-34-56-78", []string{"TEL:06-12-34-56-78"}, nil},
		{"tel compact", "au 0918551605 ou", []string{"TEL:0918551605"}, nil},
		{"tel +33", "au +33 4 72 11 22 33.", []string{"TEL:+33 4 72 11 22 33"}, nil},
		{"tel +33 compact", "au +33612345678.", []string{"TEL:+33612345678"}, nil},
		{"tel 0033", "au 0033 6 12 34 56 78", []string{"TEL:0033 6 12 34 56 78"}, nil},
		{"tel (0)", "au +33 (0)1 53 86 96 57", []string{"TEL:+33 (0)1 53 86 96 57"}, nil},
		{"tel nbsp", "au 04\u00a072\u00a011\u00a022\u00a033", []string{"TEL:04\u00a072\u00a011\u00a022\u00a033"}, nil},
		{"tel foreign", "au +41 22 372 33 11", []string{"TEL:+41 22 372 33 11"}, nil},
		{"not a phone: 11 digits", "code 04721122334 ok", nil, []string{"04721122334"}},
		{"mail", "mail : j.dupont@chu-lyon.fr.", []string{"MAIL:j.dupont@chu-lyon.fr"}, nil},
		{"mail plus", "écrire à marie+deid@example.org", []string{"MAIL:marie+deid@example.org"}, nil},
		{"date slash", "le 12/03/2024 à", []string{"DATE:12/03/2024"}, nil},
		{"date dots short year", "vu le 12.03.24.", []string{"DATE:12.03.24"}, nil},
		{"date dashes", "Date : 03-02-2023", []string{"DATE:03-02-2023"}, nil},
		{"date iso", "prélevé le 2024-03-12", []string{"DATE:2024-03-12"}, nil},
		{"date text", "le 3 janvier 2024", []string{"DATE:3 janvier 2024"}, nil},
		{"date 1er", "depuis le 1er mars", []string{"DATE:1er mars"}, nil},
		{"date abbreviated", "le 12 janv. 2020", []string{"DATE:12 janv. 2020"}, nil},
		{"date capitalised month", "Lyon, le 3 Mars 2024", []string{"DATE:3 Mars 2024"}, nil},
		{"date day month with context", "revu le 12/03 en consultation", []string{"DATE:12/03"}, nil},
		{"blood pressure is not a date", "TA 12/8, FC 80", nil, []string{"12/8"}},
		{"blood pressure mmHg", "TA 129/61 mmHg", nil, []string{"129/61"}},
		{"dose is not a date", "1/2 comprimé", nil, []string{"1/2"}},
		{"version is not a date", "protocole 1.2.3.4", nil, []string{"1.2"}},
		{"month without day", "en mars 2018", nil, []string{"mars"}},
		{"birth né le", "Patient : X, né le 17/03/1994", []string{"DATE_NAISSANCE:17/03/1994"}, nil},
		{"birth née le", "née le 4 juillet 1951", []string{"DATE_NAISSANCE:4 juillet 1951"}, nil},
		{"birth né(e)", "Né(e) le : 04/07/1951", []string{"DATE_NAISSANCE:04/07/1951"}, nil},
		{"birth DDN", "(DDN 04/07/1951)", []string{"DATE_NAISSANCE:04/07/1951"}, nil},
		{"birth date de naissance", "Date de naissance : 4 juillet 1951", []string{"DATE_NAISSANCE:4 juillet 1951"}, nil},
		{"ipp", "IPP : 8000435578   NDA : 2496917555", []string{"IPP:8000435578", "NDA:2496917555"}, nil},
		{"ipp n°", "N° IPP : 11820597", []string{"IPP:11820597"}, nil},
		{"nda séjour", "N° de séjour : 955562", []string{"NDA:955562"}, nil},
		{"nda séjour n°", "séjour n° 25320489", []string{"NDA:25320489"}, nil},
		{"ipp beats phone", "IPP : 0472112233", []string{"IPP:0472112233"}, nil},
		{"address", "demeurant 21 bis chemin des Vignes, 44000 Nantes.", []string{"ADRESSE:21 bis chemin des Vignes", "ZIP:44000", "VILLE:Nantes"}, nil},
		{"address republique", "12 bis rue de la République 69100 Villeurbanne", []string{"ADRESSE:12 bis rue de la République", "ZIP:69100", "VILLE:Villeurbanne"}, nil},
		{"address 8 mai", "3 rue du 8 Mai 1945, 38000 Grenoble", []string{"ADRESSE:3 rue du 8 Mai 1945"}, nil},
		{"cedex", "38043 Grenoble Cedex 9", []string{"ZIP:38043", "VILLE:Grenoble"}, nil},
		{"lab value not a zip", "leucocytes 12000/mm3", nil, []string{"12000"}},
		{"hospital", "Hôpital Édouard Herriot - Service de médecine interne", []string{"HOPITAL:Hôpital Édouard Herriot"}, []string{"Service"}},
		{"chu", "transfert au CHU de Grenoble.", []string{"HOPITAL:CHU de Grenoble"}, nil},
		{"clinique", "Clinique du Parc", []string{"HOPITAL:Clinique du Parc"}, nil},
		{"hôpital de jour is not named", "admis en hôpital de jour", nil, []string{"hôpital"}},
		{"department is not a facility", "Service de médecine interne", nil, []string{"Service"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ents(t, d, c.text)
			for _, w := range c.want {
				if !has(got, w) {
					t.Errorf("%q: want %s, got %v", c.text, w, got)
				}
			}
			for _, n := range c.not {
				for _, g := range got {
					if strings.Contains(g, n) {
						t.Errorf("%q: %q should not be an entity, got %v", c.text, n, got)
					}
				}
			}
		})
	}
}

func TestEponymsAndNonIdentifiers(t *testing.T) {
	d := testDeid(t)
	for _, s := range []string{
		"Suivi pour une maladie de Parkinson.",
		"Signe de Babinski bilatéral.",
		"Score de Glasgow à 15.",
		"Syndrome de Cushing iatrogène.",
		"Suivi pour une score de Martin à 3.",
		"Stade II de Leriche et Fontaine.",
		"maladie d'Alzheimer évoluée",
		"Suivi pour une syndrome de Guillain-Barré.",
		"fracture de Pouteau-Colles",
		"classification de Child-Pugh B",
		"Traitement : Lévothyrox 75 µg, Kardégic 75 mg.",
		"Biologie : Hb 11.9 g/dL, créatinine 124 µmol/L, HbA1c 6.0 %.",
		"Patient âgé de 68 ans, vu à 14h30.",
	} {
		if got := ents(t, d, s); len(got) != 0 {
			t.Errorf("%q: want no entity, got %v", s, got)
		}
	}
}

func TestNamesAndTitles(t *testing.T) {
	d := testDeid(t)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"Courrier adressé au Dr Jean-Pierre MARTIN.", []string{"PRENOM:Jean-Pierre", "NOM:MARTIN"}},
		{"Patient : LEROY Nathalie, né le 17/03/1994", []string{"NOM:LEROY", "PRENOM:Nathalie"}},
		{"Nom : de La Tour  Prénom : Hugo", []string{"NOM:de La Tour", "PRENOM:Hugo"}},
		{"Mme Julie LE GALL, âgée de 22 ans", []string{"PRENOM:Julie", "NOM:LE GALL"}},
		{"Courrier adressé au Dr Bernard.", []string{"NOM:Bernard"}},
	} {
		got := ents(t, d, c.text)
		for _, w := range c.want {
			if !has(got, w) {
				t.Errorf("%q: want %s, got %v", c.text, w, got)
			}
		}
		for _, g := range got {
			if strings.HasPrefix(g, "NOM:Dr") || strings.Contains(g, ":Mme") || strings.Contains(g, ":Dr") {
				t.Errorf("%q: a title is inside an entity: %v", c.text, got)
			}
		}
	}
}

func ExampleDeidentifier_Deidentify() {
	d, _ := New(nil)
	r := d.Deidentify("Vu le 3 mars 2024 Mme Claire Dupont, tél. 06 12 34 56 78.", Mask, nil)
	fmt.Println(r.Text)
	// Output: Vu le [DATE] Mme [PRENOM] [NOM], tél. [TEL].
}
