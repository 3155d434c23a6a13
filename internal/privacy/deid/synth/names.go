package synth

import (
	"strings"

	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Invented names. A share of the people of the training split get names
// that are in no list (random syllables): the labeller must then find them
// from their context and shape alone, as it must for the names of real
// patients that no gazetteer holds.

var (
	nameOnsets = []string{"b", "br", "ch", "d", "dr", "f", "g", "gr", "j", "k", "l", "m", "n", "p", "pr", "r", "s", "t", "tr", "v", "z", "", "h", "kh", "y", "w", "st", "bl", "cl", "gu"}
	nameVowels = []string{"a", "e", "i", "o", "u", "ou", "ai", "é", "è", "au", "ei", "ia", "io", "y", "an", "on", "in", "ar", "or", "el"}
	// Endings, by kind of name; some are typical, some not at all.
	firstEndF = []string{"a", "ine", "ette", "elle", "ie", "ia", "ène", "ise", "ane", "ée", "ya", "na", "", "", ""}
	firstEndM = []string{"o", "in", "el", "ien", "ric", "an", "on", "is", "y", "ard", "im", "ès", "", "", ""}
	lastEnd   = []string{"ier", "ard", "ot", "ez", "i", "ski", "son", "ou", "ec", "in", "et", "eau", "mann", "ova", "ian", "oglu", "elli", "ès", "ault", "", "", "", ""}
)

// pseudoName invents a name of 1 to 3 syllables with an ending of its kind
// ('F', 'M' first names, 'L' family names), capitalised.
func pseudoName(b *builder, kind byte) string {
	var sb strings.Builder
	n := 1 + b.r.IntN(3)
	for i := 0; i < n; i++ {
		sb.WriteString(pick(b, nameOnsets))
		sb.WriteString(pick(b, nameVowels))
	}
	switch kind {
	case 'F':
		sb.WriteString(pick(b, firstEndF))
	case 'M':
		sb.WriteString(pick(b, firstEndM))
	default:
		sb.WriteString(pick(b, lastEnd))
	}
	w := sb.String()
	if len(w) < 3 {
		w += pick(b, nameVowels) + "r"
	}
	return capitalize(w)
}

// inventPerson replaces the names of p by invented ones (first name,
// family name, or both).
func (b *builder) inventPerson(p *person) {
	switch b.r.IntN(3) {
	case 0:
		p.first = pseudoName(b, p.sex)
	case 1:
		p.last = pseudoName(b, 'L')
	default:
		p.first = pseudoName(b, p.sex)
		p.last = pseudoName(b, 'L')
	}
	if b.chance(0.05) {
		p.last += "-" + pseudoName(b, 'L')
	}
}

// Professional roles written before a name (never the held-out ones).
var rolesCap = []string{"Médecin traitant", "Médecin référent", "Interne", "Externe", "Chef de clinique", "Infirmière", "IDE",
	"Aide-soignante", "Cadre de santé", "Cadre du service", "Ergothérapeute", "Orthophoniste", "Psychologue",
	"Psychomotricienne", "Sage-femme", "Pharmacien", "Manipulateur radio", "Secrétaire", "Chirurgien",
	"Cardiologue", "Neurologue", "Oncologue", "Médecin de garde", "Senior", "Rédacteur", "Validé par", "Dicté par",
	"Saisi par", "Vu par", "Référent", "Médecin coordonnateur", "Praticien", "Assistant spécialiste", "Docteur junior",
	"Tuteur", "Curatrice", "Pneumologue", "Néphrologue", "Dermatologue", "Ophtalmologue", "Sage-femme référente"}

var rolesLower = []string{"l'interne ", "la psychologue ", "l'ergothérapeute ", "le cadre de santé ", "la diététicienne ",
	"l'infirmière ", "le pharmacien ", "la secrétaire ", "l'orthophoniste ", "le chirurgien ", "l'aide-soignante ",
	"le psychiatre ", "la sage-femme ", "l'externe ", "le brancardier ", "la cadre ", "le neurologue ", "notre interne, "}

var closings = []string{"Bien à vous,", "Salutations distinguées,", "Respectueusement,", "Avec mes remerciements,",
	"Bien amicalement,", "Confraternellement,", "Sincères salutations,", "À votre disposition,"}

// anyName writes the person in one of the usual forms, without title.
func (b *builder) anyName(p *person) {
	switch b.r.IntN(6) {
	case 0, 1:
		b.prenomNom(p, b.upper)
	case 2:
		b.nomPrenom(p, true)
	case 3:
		b.prenomNom(p, true)
	case 4:
		b.t(b.civ(p) + " ")
		b.nom(p, b.upper)
	default:
		b.dr(p)
	}
}

// moreTrainContext writes more sentences of the training split: names in
// the structures of real notes (roles, signatures, greetings, filiation,
// identification lines, dictated notes), and capitalised words that are
// no names (headers, names of places that are no towns).
func moreTrainContext(b *builder) {
	switch b.r.IntN(15) {
	case 14:
		// Drugs and devices that no list holds, capitalised mid-sentence.
		b.t(b.one("Sous ", "Relais par ", "Introduction de ", "Arrêt du ", "Traitement par ", "Poursuite du ", "Mise sous ", "Pose d'un ") +
			capitalize(pseudoWord(b)) + b.one(" ", "® ") + pick(b, doses) + b.one(" par jour.", ".", " le soir.", ", bien toléré.") + " ")
	case 13:
		// Unknown acronyms (services, tests, transports) in capitals.
		b.t(b.one("Transport : ", "Bilan ", "Sous ", "Prise en charge en ", "Orientation vers le ", "Relais ", "Score ", "Demande de ", "") +
			acronym(b) + b.one(".", " à prévoir.", " : normal.", " en cours.", " fait le matin.") + " ")
	case 12:
		// A header of one or two words in capitals, some hyphenated.
		b.t("\n" + strings.ToUpper(pick(b, b.p.words)) + " " + strings.ToUpper(pseudoWord(b)+"-"+pseudoWord(b)) + "\n")
	case 0:
		b.t("\n" + pick(b, rolesCap) + b.one(" : ", " : ", " - ", " "))
		b.anyName(b.newPerson())
		b.t(b.one("\n", ".", ", poste "+digits(b, 4)+".", " (bip "+digits(b, 3)+")\n"))
	case 1:
		b.t(b.one("Vu avec ", "Discuté avec ", "En lien avec ", "Échange avec ", "Appel à ", "Rencontre avec ", "Transmis à ", "Point fait avec "))
		b.t(pick(b, rolesLower))
		r := b.newPerson()
		switch b.r.IntN(4) {
		case 0:
			b.e(deid.Prenom, r.first)
		case 1:
			b.prenomNom(r, b.upper)
		case 2:
			b.nom(r, true)
		default:
			b.t(b.civ(r) + " ")
			b.nom(r, b.upper)
		}
		b.t(b.one(", qui reverra le patient.", ". ", " ce jour. ", " : accord pour la sortie. "))
	case 2:
		b.t("\n" + pick(b, closings) + "\n")
		p := b.get("doctor")
		if b.chance(0.5) {
			b.prenomNom(p, b.upper)
		} else {
			b.nomPrenom(p, true)
		}
		b.t("\n" + b.one("Praticien hospitalier", "Chef de service", "Médecin", "Interne", "Infirmière coordinatrice", "") + "\n")
	case 3:
		p := b.get("doctor2")
		b.t("\n")
		if b.chance(0.3) {
			// A first name alone is written without a title.
			b.t(b.one("Cher ", "Chère ", "Bonjour ", "Chère amie, chère ", "Salut "))
			b.e(deid.Prenom, p.first)
		} else {
			b.t(b.one("Cher Docteur ", "Chère Madame ", "Cher Monsieur ", "Cher Professeur ", "Bonjour Docteur ", "Chère Docteure ", "Bonjour Madame "))
			if b.chance(0.7) {
				b.nom(p, b.upper)
			} else {
				b.prenomNom(p, b.upper)
			}
		}
		b.t(",\n")
	case 4:
		r := b.get("relative")
		p := b.get("patient")
		switch b.r.IntN(4) {
		case 0:
			b.t(b.one("Fils de ", "Fille de ", "Enfant de ", "Né de "))
			b.e(deid.Prenom, r.first)
			b.t(" et de ")
			b.e(deid.Prenom, b.newPerson().first)
			b.t(". ")
		case 1:
			b.t(b.civ(p) + " ")
			b.nom(p, b.upper)
			b.t(b.one(" épouse ", " née ", ", épouse ", " veuve "))
			b.nom(b.newPerson(), b.upper)
			b.t(b.one(".", ", "+b.age()+" ans.", " est hospitalisée."))
		case 2:
			b.t(b.one("Son époux, ", "Sa femme, ", "Son compagnon, ", "Sa mère, "))
			b.prenomNom(r, b.upper)
			b.t(b.one(", est présent.", ", est joignable.", ", est personne de confiance."))
		default:
			b.t(b.one("Le fils, ", "La fille, ", "Le frère, "))
			b.e(deid.Prenom, r.first)
			b.t(b.one(", passe tous les jours.", ", est informé.", ", souhaite un rendez-vous."))
		}
	case 5:
		p := b.get("patient")
		b.t("\n")
		if b.chance(0.5) {
			b.prenomNom(p, b.upper)
		} else {
			b.nomPrenom(p, true)
		}
		b.t(b.one(", né(e) le ", ", né le ", ", née le ", " ("))
		b.ddn()
		b.t(b.one("\n", ")\n", ", "+b.age()+" ans\n"))
	case 6:
		p := b.get("patient")
		b.t(b.one("le patient ", "la patiente ", "patient ", "patiente ", "pt ", "chez ", "examen de ", "suivi de "))
		if b.chance(0.6) {
			b.nom(p, true)
		} else {
			b.prenomNom(p, b.upper)
		}
		b.t(b.one(" stable", " algique", " sans plainte", " a bien dormi", " apyrétique") + ", " + b.one("bilan à prévoir.", "RAS.", "surveillance.") + " ")
	case 7:
		// Headers of one or two words in capitals.
		w := func() string {
			if b.chance(0.5) {
				return strings.ToUpper(pseudoWord(b))
			}
			return strings.ToUpper(pick(b, b.p.words))
		}
		b.t("\n" + w())
		if b.chance(0.7) {
			b.t(b.one(" ", " ", " - ", " DE ") + w())
		}
		b.t("\n")
	case 8:
		// Named places and groups that are no towns nor people.
		b.t(b.one("Crèche ", "École ", "Association ", "Foyer ", "Club ", "Collège ", "Maison d'accueil ", "Centre social ", "Atelier ", "Groupe "))
		b.t(b.one("Les ", "La ", "Le ", "L'", "", "des ") + pick(b, b.p.words))
		if b.chance(0.5) {
			b.t(" " + pick(b, b.p.words))
		}
		b.t(b.one(".", ", à ", " : inscription faite.", " le mercredi."))
		if s := b.sb.String(); s[len(s)-3:] == "à " {
			b.ville()
			b.t(".")
		}
	case 9:
		b.t(b.one("Présents : ", "Participants : ", "Étaient présents : "))
		n := 2 + b.r.IntN(3)
		for i := 0; i < n; i++ {
			if i > 0 {
				b.t(", ")
			}
			r := b.newPerson()
			if b.chance(0.5) {
				b.dr(r)
			} else {
				b.t(b.civ(r) + " ")
				b.nom(r, b.upper)
				b.t(b.one(" (IDE)", " (psychologue)", "", " (cadre)"))
			}
		}
		b.t(".\n")
	case 10:
		r := b.newPerson()
		b.t(b.one("Avis demandé (", "Revu en staff (", "Appel reçu ("))
		b.anyName(r)
		b.t(b.one(").", ") : accord.", ") le "))
		if s := b.sb.String(); s[len(s)-3:] == "le " {
			b.date()
			b.t(".")
		}
	default:
		p := b.get("patient")
		b.t(b.one("Je reçois ", "Nous recevons ", "J'ai examiné ", "Nous avons revu "))
		b.titled(p)
		b.t(b.one(" pour ", ", qui consulte pour ", ", adressé pour "))
		b.t(pick(b, conditions) + ". ")
	}
}

// acronym invents an acronym of two to five capital letters.
func acronym(b *builder) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZBCDFGHLMPRSTV"
	n := 2 + b.r.IntN(4)
	out := make([]byte, n)
	for i := range out {
		out[i] = letters[b.r.IntN(len(letters))]
	}
	return string(out)
}
