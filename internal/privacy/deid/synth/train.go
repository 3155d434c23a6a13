package synth

import (
	"fmt"

	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Template families of the training split. Held-out families (heldout.go)
// are written separately, with other document types and phrasings.
var trainFamilies = []family{
	{"crh", crh},
	{"consultation-letter", consultationLetter},
	{"ordonnance", ordonnance},
	{"cr-operatoire", crOperatoire},
	{"imagerie", imagerie},
	{"urgences", urgences},
	{"anesthesie", anesthesie},
	{"lettre-sortie", lettreSortie},
	{"rcp", rcp},
	{"transmissions", transmissions},
	{"psychiatrie", psychiatrie},
	{"header-admin", headerAdmin},
}

// patientHeader writes the identification block at the top of a document.
func (b *builder) patientHeader(p *person) {
	switch b.r.IntN(6) {
	case 0:
		b.t("Patient : ")
		b.nomPrenom(p, b.upper)
		b.t(", " + b.one("né", "née", "né(e)") + " le ")
		b.ddn()
		b.t("\n")
	case 1:
		b.t("Nom : ")
		b.nom(p, b.upper)
		b.t(b.one("  ", " ", "\n", "\t") + "Prénom : ")
		b.e(deid.Prenom, p.first)
		b.t("\n")
		b.t(b.one("Date de naissance : ", "DDN : ", "Né(e) le : "))
		b.ddn()
		b.t("\n")
	case 2:
		b.t(b.one("Patient", "Patiente", "Identité") + " : " + b.civ(p) + " ")
		b.nomPrenom(p, true)
		b.t(b.one(" (", " - ") + b.one("DDN ", "né le ", "née le ", "DDN : "))
		b.ddn()
		b.t(b.one(")", "") + "\n")
	case 3:
		b.nomPrenom(p, true)
		b.t(" - " + b.one("né", "née") + " le ")
		b.ddn()
		b.t(" - " + b.age() + " ans\n")
	case 4:
		b.t("NOM : ")
		b.nom(p, true)
		b.t("\nPRÉNOM : ")
		b.e(deid.Prenom, p.first)
		b.t("\nDDN : ")
		b.ddn()
		b.t("\n")
	default:
		b.t("Concerne : " + b.civ(p) + " ")
		b.prenomNom(p, b.upper)
		b.t(", " + b.one("né", "née") + " le ")
		b.ddn()
		b.t("\n")
	}
}

func (b *builder) ids() {
	switch b.r.IntN(5) {
	case 0:
		b.t("IPP : ")
		b.ipp()
		b.t(b.one("   ", " - ", "\n", "  ") + "NDA : ")
		b.nda()
	case 1:
		b.t("N° IPP : ")
		b.ipp()
		b.t("\nN° de séjour : ")
		b.nda()
	case 2:
		b.t("Identifiant patient : ")
		b.ipp()
		b.t(b.one(" | ", "\n") + "Numéro de séjour : ")
		b.nda()
	case 3:
		b.t("IPP ")
		b.ipp()
		b.t(" / NDA ")
		b.nda()
	default:
		b.t("NIP : ")
		b.ipp()
		b.t(b.one("\n", " ; ") + "N° dossier : ")
		b.nda()
	}
	b.t("\n")
}

func crh(b *builder) {
	p := b.get("patient")
	b.t(b.one("COMPTE RENDU D'HOSPITALISATION", "Compte rendu d'hospitalisation", "COMPTE-RENDU D'HOSPITALISATION", "CRH") + "\n")
	b.hopital()
	b.t(" - ")
	b.service()
	b.t("\n")
	if b.chance(0.8) {
		b.ids()
	}
	b.patientHeader(p)
	b.t(b.one("Admis", "Hospitalisé", "Entré") + " le ")
	b.date()
	b.t(" pour " + pick(b, conditions) + ".\n")
	b.sentences(2 + b.r.IntN(4))
	b.t("\n")
	if b.chance(0.4) {
		switch b.r.IntN(3) {
		case 0:
			b.t(b.civ(p) + " ")
			b.nom(p, b.upper)
			b.t(" a bien évolué sous traitement.")
		case 1:
			b.t("La patiente est accompagnée de sa fille ")
			b.prenomNom(b.get("relative"), false)
			b.t(".")
		default:
			b.t("Le patient a été vu par le Dr ")
			b.nom(b.get("doctor2"), b.upper)
			b.t(".")
		}
		b.t("\n")
	}
	b.t("Sortie le ")
	b.date()
	b.t(". ")
	b.t(b.one("Courrier adressé au ", "Copie au ", "Suivi par le ", "Lettre au "))
	b.dr(b.get("doctor"))
	b.t(".\n")
	if b.chance(0.5) {
		b.t(b.one("Le médecin responsable : ", "Signé : ", "", "Dr "))
		if b.chance(0.5) {
			b.prenomNom(b.get("doctor2"), b.upper)
		} else {
			b.nomPrenom(b.get("doctor2"), true)
		}
		b.t("\n")
	}
}

func consultationLetter(b *builder) {
	p := b.get("patient")
	d := b.get("doctor")
	if b.chance(0.5) {
		b.hopital()
		b.t("\n")
		b.service()
		b.t("\n")
		if b.chance(0.5) {
			b.t("Secrétariat : ")
			b.tel()
			b.t("\n")
		}
	}
	b.t(b.one("Cher confrère,", "Chère consœur,", "Cher ami,", "Madame, Monsieur,", "Cher Docteur,") + "\n")
	b.t(b.one("J'ai vu en consultation le ", "J'ai revu le ", "J'ai eu le plaisir de voir le ", "Je vois ce jour, "))
	b.date()
	b.t(" ")
	b.titled(p)
	b.t(", " + b.one("âgée", "âgé", "âgé(e)") + " de " + b.age() + " ans, ")
	b.t(b.one("demeurant ", "domicilié(e) ", "habitant ", "résidant "))
	b.fullAddress(", ")
	b.t(".\n")
	b.sentences(2 + b.r.IntN(4))
	b.t("\n")
	if b.chance(0.3) {
		b.t("Je reverrai " + b.one("Mme ", "M. ", "votre patient ", "votre patiente "))
		if b.chance(0.5) {
			b.nom(p, p.upper)
			b.t(" ")
		}
		b.t("dans " + fmt.Sprint(1+b.r.IntN(6)) + " mois.\n")
	}
	b.t(b.one("Vous pouvez me joindre au ", "Tél. : ", "Joignable au ", "Ligne directe : "))
	b.tel()
	b.t(b.one(" ou par mail : ", " - ", ", courriel : ", " ou "))
	b.mail(d, b.chance(0.5))
	b.t(".\n")
	b.t(b.one("Bien confraternellement,", "Bien cordialement,", "Veuillez agréer, cher confrère, mes salutations distinguées.", "Amitiés,") + "\n")
	b.dr(d)
	b.t("\n")
}

func ordonnance(b *builder) {
	p := b.get("patient")
	b.t(b.one("ORDONNANCE", "Ordonnance", "ORDONNANCE DE SORTIE", "PRESCRIPTION MÉDICALE") + "\n")
	b.hopital()
	b.t("\n")
	if b.chance(0.3) {
		b.dr(b.get("doctor"))
		b.t(" - RPPS " + digits(b, 11) + "\n")
	}
	switch b.r.IntN(3) {
	case 0:
		b.t("Nom : ")
		b.nom(p, b.upper)
		b.t(b.one("  ", " ", "\t") + "Prénom : ")
		b.e(deid.Prenom, p.first)
		b.t("\n")
	case 1:
		b.t(b.civ(p) + " ")
		b.nomPrenom(p, true)
		b.t("\n")
	default:
		b.t("Patient : ")
		b.prenomNom(p, b.upper)
		b.t(", " + b.age() + " ans, " + b.one("poids ", "") + fmt.Sprint(45+b.r.IntN(60)) + " kg\n")
	}
	if b.chance(0.7) {
		b.t(b.one("N° SS : ", "NIR : ", "N° de sécurité sociale : ", "Sécurité sociale : "))
		b.secu(p)
		b.t("\n")
	}
	b.t(b.one("Date : ", "Le ", "Fait le ", ""))
	b.date()
	b.t("\n")
	n := 1 + b.r.IntN(4)
	for i := 0; i < n; i++ {
		b.t(b.one("- ", "• ", fmt.Sprintf("%d) ", i+1)))
		b.drug()
		b.t(b.one(" matin et soir", " le soir", " 3 fois par jour", " si douleur", " pendant 7 jours", "") + "\n")
	}
	if b.chance(0.4) {
		b.t("À renouveler " + b.one("1", "2", "3") + " fois.\n")
	}
	if b.chance(0.5) {
		b.dr(b.get("doctor"))
		b.t("\n")
	}
}

func crOperatoire(b *builder) {
	p := b.get("patient")
	b.t(b.one("COMPTE RENDU OPÉRATOIRE", "Compte rendu opératoire", "CRO") + "\n")
	b.hopital()
	b.t(" - " + b.one("Bloc opératoire", "Service de chirurgie digestive", "Chirurgie orthopédique") + "\n")
	b.t("Opéré" + b.one("", "e", "(e)") + " : ")
	b.nomPrenom(p, true)
	b.t(b.one(", né le ", ", DDN ", " - né(e) le "))
	b.ddn()
	b.t("\nDate de l'intervention : ")
	b.date()
	b.t("\nOpérateur : ")
	b.dr(b.get("doctor"))
	b.t("\nAide : ")
	if b.chance(0.5) {
		b.dr(b.get("doctor2"))
	} else {
		b.prenomNom(b.get("doctor2"), b.upper)
	}
	b.t("\nAnesthésiste : ")
	b.dr(b.get("anesth"))
	b.t("\nIndication : " + pick(b, conditions) + ".\n")
	b.t(b.one("Installation en décubitus dorsal. ", "Patient installé en position de Trendelenburg. ", "Décubitus latéral gauche. "))
	b.t(b.one("Incision de Pfannenstiel. ", "Cœlioscopie, open coelio selon Hasson. ", "Voie d'abord de Kocher. ", "Incision médiane. "))
	b.t(b.one("Cholécystectomie rétrograde, triangle de Calot disséqué. ", "Cure de hernie selon Lichtenstein. ", "Intervention de Hartmann. ", "Ostéosynthèse par plaque. "))
	b.t("Drain de Redon. Fermeture plan par plan.\n")
	b.t("Suites : ")
	b.sentence()
	b.t("\n")
	if b.chance(0.4) {
		b.t("Famille prévenue : " + b.one("son épouse", "son fils", "sa fille", "son mari") + ", ")
		b.titled(b.get("relative"))
		b.t(", au ")
		b.tel()
		b.t(".\n")
	}
}

func imagerie(b *builder) {
	p := b.get("patient")
	b.hopital()
	b.t(" - " + b.one("Service d'imagerie médicale", "Radiologie", "Département de radiologie") + "\n")
	b.t(b.one("IRM ", "SCANNER ", "ÉCHOGRAPHIE ", "RADIOGRAPHIE ", "TDM ") + b.one("CÉRÉBRALE", "THORACIQUE", "ABDOMINO-PELVIENNE", "DU GENOU DROIT", "TAP") + "\n")
	b.t(b.one("Patient : ", "Nom : ", ""))
	if b.chance(0.5) {
		b.nomPrenom(p, true)
	} else {
		b.titled(p)
	}
	b.t(b.one("  DDN : ", " - né(e) le ", ", né le ", "\nDate de naissance : "))
	b.ddn()
	b.t("\n")
	b.t(b.one("Examen du ", "Date de l'examen : ", "Réalisé le "))
	b.date()
	b.t(b.one(" à "+b.hour(), "", ""))
	b.t("\nDemandé par : ")
	b.dr(b.get("doctor"))
	b.t("\nIndication : " + b.one("bilan d'extension", "douleur thoracique", "céphalées", "suspicion de ", "contrôle post-opératoire"))
	b.t(".\nTechnique : " + b.one("acquisition hélicoïdale avec injection", "séquences T1, T2, FLAIR, diffusion", "sans injection") + ".\n")
	b.t("Résultat : " + b.one("absence de lésion focale.", "nodule spiculé de 12 mm.", "hypersignal FLAIR périventriculaire.", "épanchement pleural bilatéral.") + " ")
	if b.chance(0.5) {
		b.t("Aspect compatible avec une ")
		b.eponym()
		b.t(". ")
	}
	b.t("\nConclusion : " + b.one("examen normal.", "à confronter à la clinique.", "progression tumorale.", "pas d'argument pour une embolie pulmonaire.") + "\n")
	b.dr(b.get("radiologue"))
	b.t(b.one("\n", ", radiologue\n"))
}

func urgences(b *builder) {
	p := b.get("patient")
	b.t(b.one("SERVICE DES URGENCES", "Urgences adultes", "SAU") + " - ")
	b.hopital()
	b.t("\n")
	b.t(b.one("Admission le ", "Arrivée le ", "Date d'entrée : "))
	b.date()
	b.t(" à " + b.hour() + "\n")
	b.titled(p)
	b.t(", " + b.age() + " ans, ")
	if b.chance(0.5) {
		b.t(b.one("né", "née") + " le ")
		b.ddn()
		b.t(", ")
	}
	b.t(b.one("adressé", "amené", "venu") + " par " + b.one("les pompiers", "le SAMU", "son médecin traitant, le ", "sa famille"))
	s := b.sb.String()
	if s[len(s)-3:] == "le " {
		b.dr(b.get("doctor"))
	}
	b.t(" pour " + b.one("douleur thoracique", "chute", "dyspnée", "malaise", "fièvre", "confusion") + ".\n")
	if b.chance(0.5) {
		b.t("Personne à prévenir : ")
		r := b.get("relative")
		if b.chance(0.5) {
			b.prenomNom(r, b.upper)
		} else {
			b.titled(r)
		}
		b.t(" (" + b.one("fille", "fils", "épouse", "époux", "voisine", "mère") + ") ")
		b.tel()
		b.t("\n")
	}
	b.t("Examen : ")
	b.vitals()
	b.t(". ")
	b.sentences(1 + b.r.IntN(3))
	b.t("\nDevenir : " + b.one("retour à domicile", "hospitalisation en cardiologie", "transfert au ", "UHCD"))
	s = b.sb.String()
	if s[len(s)-3:] == "au " {
		b.hopital()
	}
	b.t(".\nMédecin urgentiste : ")
	b.dr(b.get("doctor2"))
	b.t("\n")
}

func anesthesie(b *builder) {
	p := b.get("patient")
	b.t(b.one("CONSULTATION PRÉ-ANESTHÉSIQUE", "Consultation d'anesthésie", "CPA") + "\n")
	b.t("Date : ")
	b.date()
	b.t("\n")
	b.patientHeader(p)
	b.t("Intervention prévue le ")
	b.date()
	b.t(" : " + b.one("PTH gauche", "cholécystectomie", "coloscopie", "arthroscopie du genou", "hystérectomie") + ", chirurgien ")
	b.dr(b.get("doctor"))
	b.t(".\nAntécédents : ")
	b.atcd(1 + b.r.IntN(3))
	b.t(".\nAllergies : " + b.one("aucune", "pénicilline", "iode", "latex") + ".\nTraitement habituel : ")
	b.drugs(1+b.r.IntN(3), ", ")
	b.t(".\nScore ASA " + b.one("1", "2", "3") + ", Mallampati " + b.one("1", "2", "3") + ", " + b.one("intubation prévue facile", "critères d'intubation difficile") + ".\n")
	b.t("Anesthésiste : ")
	b.dr(b.get("anesth"))
	b.t("\n")
}

func lettreSortie(b *builder) {
	p := b.get("patient")
	d := b.get("doctor")
	b.hopital()
	b.t("\n")
	if b.chance(0.6) {
		b.t(b.one("", "Adresse : "))
		b.fullAddress(b.one(", ", "\n", " - "))
		b.t("\n")
	}
	switch b.r.IntN(3) {
	case 0:
		b.ville()
		b.t(", le ")
	case 1:
		b.t("Le ")
	default:
	}
	b.date()
	b.t("\n")
	b.t(b.one("Docteur ", "Dr ", "À l'attention du Dr "))
	b.prenomNom(b.get("mt"), b.upper)
	b.t("\n")
	if b.chance(0.5) {
		b.adresse()
		b.t("\n")
		b.zipVille()
		b.t("\n")
	}
	b.t(b.one("Objet : ", "Concerne : ", "Réf. : "))
	b.titled(p)
	if b.chance(0.6) {
		b.t(b.one(", né le ", ", née le ", " (DDN : ", ", date de naissance : "))
		b.ddn()
	}
	b.t("\n")
	b.t(b.one("Cher confrère,\n", "Mon cher confrère,\n", "Chère consœur,\n"))
	b.t("Votre patient" + b.one("", "e") + " a été hospitalisé" + b.one("", "e") + " du ")
	b.date()
	b.t(" au ")
	b.date()
	b.t(" " + b.one("dans le service", "pour "+pick(b, conditions)) + ".\n")
	b.sentences(2 + b.r.IntN(3))
	b.t("\n")
	if b.chance(0.5) {
		b.t("Il" + b.one("", "/elle") + " sera revu" + b.one("", "(e)") + " en consultation par le ")
		b.dr(b.get("doctor2"))
		b.t(" le ")
		b.date()
		b.t(".\n")
	}
	if b.chance(0.4) {
		b.t("Coordonnées du patient : ")
		b.tel()
		if b.chance(0.5) {
			b.t(", ")
			b.mail(p, false)
		}
		b.t("\n")
	}
	b.t("Bien confraternellement.\n")
	b.dr(d)
	if b.chance(0.5) {
		b.t("\n")
		b.service()
	}
	b.t("\n")
}

func rcp(b *builder) {
	p := b.get("patient")
	b.t(b.one("FICHE RCP", "Réunion de concertation pluridisciplinaire", "RCP ONCOLOGIE THORACIQUE") + "\n")
	b.t("Date de la RCP : ")
	b.date()
	b.t("\n")
	b.t(b.one("Patient : ", "Nom du patient : "))
	b.nomPrenom(p, true)
	b.t(b.one(" - né le ", ", née le ", " - DDN ", ", "))
	b.ddn()
	b.t("\n")
	if b.chance(0.5) {
		b.t("Médecin référent : ")
		b.dr(b.get("doctor"))
		b.t("\n")
	}
	b.t("Participants : ")
	n := 2 + b.r.IntN(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.t(", ")
		}
		b.dr(b.newPerson())
	}
	b.t("\nHistoire : ")
	b.sentences(2)
	b.t("\nProposition : " + b.one("chimiothérapie par ", "radiothérapie", "surveillance", "chirurgie"))
	if b.chance(0.5) {
		b.drug()
	}
	b.t(".\n")
}

func transmissions(b *builder) {
	p := b.get("patient")
	b.t(b.one("Transmissions infirmières", "TRANSMISSIONS", "Dossier de soins") + " - ")
	b.titled(p)
	b.t(b.one(" - chambre ", ", ch. ") + fmt.Sprint(100+b.r.IntN(400)) + "\n")
	n := 2 + b.r.IntN(4)
	for i := 0; i < n; i++ {
		if b.chance(0.5) {
			b.date()
			b.t(" ")
		}
		b.t(b.hour() + " : ")
		switch b.r.IntN(6) {
		case 0:
			b.t("Appel de " + b.one("sa fille ", "son fils ", "l'épouse, ", "Mme "))
			r := b.get("relative")
			if b.chance(0.5) {
				b.prenomNom(r, false)
			} else {
				b.nom(r, b.upper)
			}
			b.t(", informée de l'évolution.")
		case 1:
			b.t("Vu par le ")
			b.dr(b.get("doctor"))
			b.t(", ")
			b.drug()
			b.t(" prescrit.")
		case 2:
			b.vitals()
			b.t(".")
		case 3:
			b.t(b.one("Patient", "Patiente") + " " + b.one("calme", "algique", "confus", "désaturé à 88 %") + ". ")
			b.drug()
			b.t(" administré.")
		case 4:
			b.t("IDE ")
			b.prenomNom(b.newPerson(), false)
			b.t(" : pansement refait.")
		default:
			b.sentence()
		}
		b.t("\n")
	}
}

func psychiatrie(b *builder) {
	p := b.get("patient")
	b.e(deid.Hopital, b.one("Centre hospitalier Le Vinatier", "EPSM de la Sarthe", "Centre hospitalier Sainte-Anne"))
	b.t("\n")
	b.t(b.one("Entretien du ", "Consultation du ", "Note d'évolution du "))
	b.date()
	b.t("\n")
	b.titled(p)
	b.t(b.one(" est reçu", " est reçue", " se présente") + " " + b.one("seul", "seule", "accompagné de sa mère", "avec son épouse") + ". ")
	if b.chance(0.6) {
		b.t("Il évoque des conflits avec " + b.one("son frère ", "sa sœur ", "son ex-compagne ", "son employeur, M. "))
		r := b.newPerson()
		if b.chance(0.5) {
			b.e(deid.Prenom, r.first)
		} else {
			b.prenomNom(r, false)
		}
		b.t(". ")
	}
	b.t(b.one("Humeur triste, ", "Thymie neutre, ", "Discours cohérent, ") + b.one("pas d'idées suicidaires.", "insomnie d'endormissement.", "anxiété majeure.") + " ")
	b.t("Traitement : ")
	b.drugs(1+b.r.IntN(2), ", ")
	b.t(".\n")
	if b.chance(0.5) {
		b.t(b.one("Vit à ", "Domicilié à ", "Habite à "))
		b.ville()
		b.t(b.one(", en appartement.", " chez ses parents.", "."))
		b.t("\n")
	}
	b.t(b.one("Psychiatre : ", "Dr ", "Signé "))
	if b.chance(0.5) {
		b.prenomNom(b.get("doctor"), b.upper)
	} else {
		b.nom(b.get("doctor"), true)
	}
	b.t("\n")
}

func headerAdmin(b *builder) {
	p := b.get("patient")
	b.t(b.one("FICHE ADMINISTRATIVE", "Identité patient", "ÉTIQUETTE PATIENT") + "\n")
	b.t("Nom de naissance : ")
	b.nom(p, true)
	if b.chance(0.4) {
		b.t("\nNom d'usage : ")
		b.nom(b.newPerson(), true)
	}
	b.t("\nPrénom : ")
	b.e(deid.Prenom, p.first)
	b.t("\nSexe : " + string(p.sex) + "\nDate de naissance : ")
	b.ddn()
	b.t("\nAdresse : ")
	b.fullAddress(b.one(", ", "\n", " "))
	b.t("\nTéléphone : ")
	b.tel()
	if b.chance(0.5) {
		b.t("\nCourriel : ")
		b.mail(p, false)
	}
	b.t("\nN° de sécurité sociale : ")
	b.secu(p)
	b.t("\nIPP : ")
	b.ipp()
	b.t("\nMédecin traitant : ")
	b.dr(b.get("mt"))
	b.t("\nPersonne de confiance : ")
	b.prenomNom(b.get("relative"), b.upper)
	b.t(" (" + b.one("fille", "fils", "époux", "épouse", "sœur") + ")\n")
}
