package synth

import (
	"fmt"
	"strings"

	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Capitalised words that are not names: what a labeller must leave alone.
var capitalNegatives = []string{"Bonne", "Absence", "Reprise", "Arrêt", "Poursuite", "Sous", "Devant", "Après", "Au total",
	"Pas", "Fièvre", "Douleur", "Dyspnée", "Retraité", "Marié", "Célibataire", "Veuve", "Pétanque", "Jardinage",
	"Contact", "Sans Sel", "Normal", "Négatif", "Positif", "Rhésus", "Aucune", "Oui", "Non", "Chambre", "Lit",
	"Bilan", "Synthèse", "Conduite", "Projet", "Plan", "Consignes", "Surveillance", "Régime", "Mobilisation",
	"Kiné", "Ergothérapie", "Diététique", "Social", "Entourage", "Aides", "Famille", "Domicile", "Appartement",
	"Maison", "Étage", "Ascenseur", "Infirmière", "Portage", "Repas", "Téléalarme", "Pharmacie", "Laboratoire",
	"Centre", "Nord", "Sud", "Est", "Ouest", "Grand", "Petit", "Blanc", "Rose", "Vert", "Jaune", "Gauche", "Droite"}

// trainContext writes a sentence with identifiers in context (training split).
// pseudoWord invents a word that is in no list.
func pseudoWord(b *builder) string {
	syll := []string{"ka", "lo", "mi", "ra", "tu", "ze", "po", "vi", "ne", "so", "gra", "pli", "sto", "ber", "nol", "xen", "quo", "dra", "fen", "mul"}
	w := ""
	for i := 0; i < 2+b.r.IntN(2); i++ {
		w += syll[b.r.IntN(len(syll))]
	}
	return w
}

func trainContext(b *builder) {
	if b.chance(0.4) {
		moreTrainContext(b)
		return
	}
	k := b.r.IntN(20)
	if k >= 17 {
		k = 15
	}
	switch k {
	case 15:
		// Unknown capitalised words that are not names: a sentence start,
		// a technical term, an upper-case header.
		switch b.r.IntN(3) {
		case 0:
			b.t(capitalize(pseudoWord(b)) + " " + b.one("musculaire", "normal", "à revoir", "du genou", "réalisé", "en cours", "de contrôle", "prévu") + ". ")
		case 1:
			b.t(b.one("Protocole ", "Séquence ", "Programme ", "Association ", "Résidence ", "Crèche ") + capitalize(pseudoWord(b)) + b.one(".", " en cours.", " : oui."))
		default:
			b.t(capitalize(pseudoWord(b)) + " : " + b.one("négatif", "3/5", "fait", "non") + ".")
		}
	case 16:
		b.t("\n" + strings.ToUpper(b.one("compte rendu de ", "bilan de ", "synthèse de ", "examen de ")+pseudoWord(b)) + "\n")
	case 12:
		// A capitalised common word before a name, at a line start.
		b.t("\n" + pick(b, b.p.words) + b.one(" ", " : ", " - "))
		p := b.get("patient")
		if b.chance(0.5) {
			b.prenomNom(p, b.upper)
		} else {
			b.nomPrenom(p, true)
		}
		b.t(b.one(".", ", "+b.age()+" ans.", "\n"))
	case 13:
		r := b.get("relative")
		b.t(b.one("Elle est aidée par ", "Il vit avec ", "Soutien de ", "Visite de ", "Accompagné de ") + b.one("sa fille ", "son fils ", "son épouse ", "son mari ", "sa petite-fille ", "son neveu "))
		b.e(deid.Prenom, r.first)
		b.t(b.one(".", ", très présente.", " qui habite à proximité.", " et de son conjoint."))
	case 14:
		b.t(pick(b, b.p.words) + " " + pick(b, b.p.words) + " " + b.one("et", "de", "des", "à") + " " + pick(b, b.p.words) + ". ")
		b.t(b.one("ITT", "CAT", "RDV", "ATCD", "TTT", "IDR", "PCR", "VNI", "BMR") + " : " + b.one("non", "à prévoir", "fait", "négatif") + ".")
	case 0:
		r := b.get("relative")
		b.t(b.one("Sa fille ", "Son fils ", "Son épouse ", "Son mari ", "Sa sœur ", "Son frère "))
		switch b.r.IntN(3) {
		case 0:
			b.e(deid.Prenom, r.first)
		case 1:
			b.prenomNom(r, b.upper)
		default:
			b.t(b.civ(r) + " ")
			b.nom(r, b.upper)
		}
		b.t(b.one(" est présente.", " a été informée.", " souhaite être appelée au ", " est personne de confiance."))
		if s := b.sb.String(); s[len(s)-3:] == "au " {
			b.tel()
			b.t(".")
		}
	case 1:
		b.t(b.one("Vit ", "Domicilié ", "Domiciliée ", "Réside ", "Habite ", "Vivait ") + "à ")
		b.ville()
		b.t(b.one(", en maison individuelle.", " depuis 2010.", ".", " avec son épouse.", ", au 3e étage sans ascenseur."))
	case 2:
		b.t(b.one("Avis pris auprès du ", "Discuté avec le ", "Revu par le ", "Avis du "))
		b.dr(b.get("doctor2"))
		b.t(b.one(" (cardiologue).", ".", ", qui propose une surveillance.", " : pas d'indication opératoire."))
	case 3:
		b.t(b.one("Prochain RDV le ", "Consultation de contrôle le ", "À revoir le "))
		b.date()
		b.t(" avec le ")
		b.dr(b.get("doctor"))
		b.t(".")
	case 4:
		b.t(b.one("Hospitalisé", "Opéré", "Suivi") + " au ")
		b.hopital()
		b.t(b.one(" en 2019.", " en mars 2018.", " le ", " pour "+pick(b, conditions)+"."))
		if s := b.sb.String(); s[len(s)-3:] == "le " {
			b.date()
			b.t(".")
		}
	case 5:
		b.t("Patient" + b.one("", "e") + " connu" + b.one("", "e") + " du ")
		b.dr(b.get("doctor"))
		b.t(b.one(", suivi au ", ".", " depuis 2015."))
		if s := b.sb.String(); s[len(s)-3:] == "au " {
			b.hopital()
			b.t(".")
		}
	case 6:
		b.t(b.one("Adressé", "Adressée", "Envoyé") + " par son médecin traitant, le ")
		b.dr(b.get("mt"))
		b.t(b.one(", à ", ".", " ("))
		switch s := b.sb.String(); {
		case s[len(s)-3:] == "à ":
			b.ville()
			b.t(".")
		case s[len(s)-1:] == "(":
			b.tel()
			b.t(").")
		}
	case 7:
		b.t(pick(b, capitalNegatives) + " : " + pick(b, capitalNegatives) + ". ")
		b.t(pick(b, capitalNegatives) + " " + b.one("ce jour", "à prévoir", "en cours", "habituelle") + ".")
	case 8:
		p := b.get("patient")
		b.t(b.one("Appel de ", "Échange avec ", "Entretien avec ") + b.one("la famille de ", "l'infirmière de ", "la fille de "))
		b.titled(p)
		b.t(b.one(".", " ce jour.", " au sujet de la sortie."))
	case 9:
		p := b.get("patient")
		b.t(capitalize(b.one("la ", "le ")) + b.one("patiente", "patient") + " ")
		if b.chance(0.5) {
			b.nom(p, p.upper)
			b.t(" ")
		}
		b.t(b.one("rentre à domicile à ", "sera transféré(e) à ", "retourne en EHPAD à "))
		b.ville()
		b.t(".")
	case 10:
		r := b.newPerson()
		b.t(b.one("IDE référente : ", "Assistante sociale : ", "Interne : ", "Diététicienne : "))
		if b.chance(0.5) {
			b.prenomNom(r, b.upper)
		} else {
			b.t(b.civ(r) + " ")
			b.nom(r, true)
		}
		b.t(b.one(".", ", poste 4521.", ", bip 312."))
	default:
		p := b.get("patient")
		b.t(b.one("Madame ", "Mme ", "Monsieur ", "M. "))
		if b.chance(0.3) {
			b.e(deid.Prenom, p.first)
		} else {
			b.nom(p, b.upper)
		}
		b.t(b.one(" est calme.", " se plaint de douleurs.", " a bien dormi.", " refuse le traitement."))
	}
}

// heldOutContext writes identifiers in context with phrasings that the
// training split never uses.
func heldOutContext(b *builder) {
	switch b.r.IntN(8) {
	case 0:
		r := b.get("relative")
		b.t("Présence " + b.one("de la nièce, ", "du petit-fils, ", "de la belle-fille, "))
		b.prenomNom(r, b.upper)
		b.t(", " + b.one("qui assure le lien avec l'équipe.", "joignable au "))
		if s := b.sb.String(); s[len(s)-3:] == "au " {
			b.tel()
			b.t(".")
		}
	case 1:
		b.t(b.one("Originaire de ", "Installé à ", "Déménagement récent à "))
		b.ville()
		b.t(b.one(", ancien ouvrier.", " (maison de plain-pied).", "."))
	case 2:
		b.t("Conformément à l'avis " + b.one("téléphonique ", "écrit ", "") + "du ")
		b.dr(b.get("doctor2"))
		b.t(", " + b.one("nous poursuivons le traitement.", "une IRM est programmée."))
	case 3:
		b.t("Convocation " + b.one("en hôpital de jour", "au plateau technique", "pour scanner") + " le ")
		b.date()
		b.t(" " + b.one("à ", "vers ") + b.hour() + ".")
	case 4:
		b.t("Antécédent de séjour " + b.one("en réanimation", "en SSR") + " au ")
		b.hopital()
		b.t(" (" + b.one("2017", "2021", "fin 2019") + ").")
	case 5:
		p := b.get("patient")
		b.t(b.one("Nous avons informé ", "Information délivrée à ", "Consentement recueilli auprès de "))
		b.titled(p)
		b.t(b.one(" et de son entourage.", ".", " en présence de son épouse."))
	case 6:
		b.t(pick(b, capitalNegatives) + " " + b.one("à domicile", "prévue", "validée") + ". " + pick(b, capitalNegatives) + " : " + b.one("oui", "non", "à discuter") + ".")
	default:
		b.t(fmt.Sprintf("Poids stable à %d kg. ", 45+b.r.IntN(60)))
		b.t(b.one("Kinésithérapeute à domicile : ", "Infirmier libéral : "))
		b.prenomNom(b.newPerson(), b.upper)
		b.t(".")
	}
}
