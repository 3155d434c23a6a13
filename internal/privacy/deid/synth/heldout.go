package synth

import (
	"fmt"

	"github.com/hygie-health/hygie/internal/privacy/deid"
)

// Template families of the held-out split: document types and phrasings
// that the training families never use, written separately.
var heldOutFamilies = []family{
	{"certificat", certificat},
	{"transfert", transfert},
	{"kinesitherapie", kinesitherapie},
	{"pediatrie", pediatrie},
	{"endoscopie", endoscopie},
	{"fiche-liaison", ficheLiaison},
	{"geriatrie", geriatrie},
	{"message", message},
	{"lettre-mt", lettreMT},
	{"dictee", dictee},
}

func certificat(b *builder) {
	p := b.get("patient")
	d := b.get("doctor")
	b.t(b.one("CERTIFICAT MÉDICAL", "Certificat médical initial", "CERTIFICAT") + "\n\n")
	b.t("Je " + b.one("soussigné", "soussignée", "soussigné(e)") + ", " + b.one("Docteur ", "Dr ", ""))
	if b.chance(0.5) {
		b.prenomNom(d, b.upper)
	} else {
		b.nomPrenom(d, true)
	}
	b.t(", " + b.one("exerçant au ", "praticien hospitalier au ", "médecin au "))
	b.hopital()
	b.t(", certifie avoir examiné ce jour ")
	b.titled(p)
	b.t(", " + b.one("né", "née", "né(e)") + " le ")
	b.ddn()
	b.t(", " + b.one("demeurant au ", "domicilié(e) au ", "résidant au "))
	b.fullAddress(" à ")
	b.t(".\n")
	b.t(b.one("Il présente ", "Elle présente ", "L'examen retrouve ") + b.one("une contusion de l'épaule droite", "une entorse de la cheville", "des lésions compatibles avec une "))
	if b.chance(0.5) {
		b.eponym()
	}
	b.t(". ITT de " + fmt.Sprint(1+b.r.IntN(20)) + " jours.\n")
	b.t("Fait à ")
	b.ville()
	b.t(", le ")
	b.date()
	b.t(", pour servir et valoir ce que de droit.\n")
	b.t(b.one("Signature : ", "", "Dr "))
	b.nom(d, true)
	b.t("\n")
}

func transfert(b *builder) {
	p := b.get("patient")
	b.t("Objet : " + b.one("demande de transfert", "transfert inter-hospitalier", "mutation") + "\n")
	b.t(b.one("Chers collègues,\n", "Madame, Monsieur,\n", "Bonjour,\n"))
	b.t("Nous " + b.one("vous adressons ", "sollicitons le transfert de "))
	if b.chance(0.5) {
		b.t(b.one("Monsieur ", "Madame ", ""))
		b.nomPrenom(p, true)
	} else {
		b.titled(p)
	}
	b.t(" (IPP ")
	b.ipp()
	b.t(b.one(", séjour n° ", ", NDA "))
	b.nda()
	b.t("), " + b.age() + " ans, hospitalisé" + b.one("", "e") + " depuis le ")
	b.date()
	b.t(" dans notre unité du ")
	b.hopital()
	b.t(" pour " + pick(b, conditions) + ". ")
	b.sentences(2)
	b.t("\nLe dossier a été discuté avec le ")
	b.dr(b.get("doctor2"))
	b.t(" de votre équipe, qui accepte le transfert pour le ")
	b.shortDate()
	b.t(".\nContact : ")
	b.dr(b.get("doctor"))
	b.t(", poste " + digits(b, 4) + b.one(", ou ", " / portable ", " - tél. "))
	b.tel()
	b.t("\n")
}

func kinesitherapie(b *builder) {
	p := b.get("patient")
	b.t(b.one("BILAN KINÉSITHÉRAPIQUE", "Bilan de rééducation", "Compte rendu de kinésithérapie") + "\n")
	b.t("Kinésithérapeute : ")
	b.prenomNom(b.get("kine"), b.upper)
	b.t("\nPatient" + b.one("", "(e)") + " : ")
	b.prenomNom(p, b.upper)
	b.t(b.one(" (DDN ", " — né le ", ", né(e) le "))
	b.ddn()
	b.t(b.one(")", "") + "\nPrescripteur : ")
	b.dr(b.get("doctor"))
	b.t("\nDate du bilan : ")
	b.date()
	b.t("\n")
	b.t("Motif : rééducation après " + b.one("PTG droite", "ligamentoplastie du LCA", "fracture de Pouteau-Colles", "AVC") + ". ")
	b.t("Testing musculaire : quadriceps " + b.one("3/5", "4/5", "4+/5") + ". Test de Lachman " + b.one("négatif", "positif") + ". ")
	b.t("EVA " + fmt.Sprint(b.r.IntN(10)) + "/10.\n")
	b.t(fmt.Sprint(10+b.r.IntN(20)) + " séances prévues, " + b.one("au cabinet", "à domicile au ", "en centre"))
	s := b.sb.String()
	if s[len(s)-3:] == "au " {
		b.fullAddress(", ")
	}
	b.t(". Prochain rendez-vous le ")
	b.date()
	b.t(".\n")
}

func pediatrie(b *builder) {
	child := b.get("patient")
	mother := b.get("mother")
	mother.last = child.last
	mother.sex = 'F'
	b.t(b.one("Consultation de pédiatrie", "PÉDIATRIE GÉNÉRALE", "Suivi pédiatrique") + " — ")
	b.date()
	b.t("\n")
	b.t(b.one("Enfant ", "", "Bébé "))
	b.prenomNom(child, b.upper)
	b.t(", " + b.one("né", "née") + " le ")
	b.ddn()
	b.t(", " + b.one("accompagné", "accompagnée") + " de sa mère, Mme ")
	b.e(deid.Prenom, mother.first)
	if b.chance(0.5) {
		b.t(" ")
		b.nom(mother, b.upper)
	}
	b.t(b.one(".", ", et de son père.", ", joignable au "))
	s := b.sb.String()
	if s[len(s)-3:] == "au " {
		b.tel()
		b.t(".")
	}
	b.t("\nPoids " + fmt.Sprintf("%d,%d kg", 3+b.r.IntN(30), b.r.IntN(10)) + ", taille " + fmt.Sprint(50+b.r.IntN(100)) + " cm. ")
	b.t(b.one("Score d'Apgar 10/10 à la naissance. ", "Vaccinations à jour. ", "Développement psychomoteur normal. "))
	b.t(b.one("Pas de souffle cardiaque. ", "Otite moyenne aiguë droite. ", "Suspicion de maladie de Kawasaki. "))
	b.t("Traitement : ")
	b.drug()
	b.t(".\n")
	b.t("Crèche : " + b.one("Les Petits Loups", "Les Lutins", "Arc-en-ciel") + ", à ")
	b.ville()
	b.t(".\nPédiatre : ")
	b.dr(b.get("doctor"))
	b.t("\n")
}

func endoscopie(b *builder) {
	p := b.get("patient")
	b.t(b.one("COMPTE RENDU DE COLOSCOPIE", "Compte rendu d'endoscopie digestive haute", "FIBROSCOPIE ŒSO-GASTRO-DUODÉNALE") + "\n")
	b.t("Endoscopiste : ")
	b.dr(b.get("doctor"))
	b.t("\nPatient : ")
	b.nomPrenom(p, true)
	b.t(" — IPP : ")
	b.ipp()
	b.t(" — Date : ")
	b.date()
	b.t("\nIndication : " + b.one("anémie ferriprive", "dépistage, antécédent familial", "épigastralgies", "rectorragies") + ".\n")
	b.t("Préparation : score de Boston " + b.one("7/9", "8/9", "9/9") + ". ")
	b.t(b.one("Polype sessile de 6 mm du sigmoïde, classification de Paris 0-Is, réséqué à l'anse froide. ", "Muqueuse normale. ", "Œsophage de Barrett court. ", "Ulcère bulbaire Forrest III. "))
	b.t("Biopsies adressées au laboratoire d'anatomopathologie.\n")
	b.t("Copie : médecin traitant, ")
	b.dr(b.get("mt"))
	b.t(", ")
	b.fullAddress(" ")
	b.t("\n")
}

func ficheLiaison(b *builder) {
	p := b.get("patient")
	b.t(b.one("FICHE DE LIAISON", "Fiche de liaison infirmière", "BON DE TRANSPORT") + "\n")
	b.t("Établissement d'origine : ")
	b.hopital()
	b.t("\nÉtablissement d'accueil : ")
	b.hopital()
	b.t("\nPatient : ")
	b.prenomNom(p, true)
	b.t("\nNé(e) le : ")
	b.ddn()
	b.t("\nAdresse : ")
	b.adresse()
	b.t(b.one("\n", ", ", " — "))
	b.zipVille()
	b.t("\nN° INS : ")
	b.secu(p)
	b.t("\nContact famille : ")
	b.titled(b.get("relative"))
	b.t(" (" + b.one("fille", "fils", "nièce", "époux") + ") — ")
	b.tel()
	b.t("\nMédecin traitant : ")
	b.dr(b.get("mt"))
	b.t(", ")
	b.tel()
	b.t("\nAutonomie : " + b.one("GIR 2", "GIR 4", "autonome", "aide à la toilette") + ". Transport : " + b.one("VSL", "ambulance allongée", "taxi conventionné") + ".\n")
}

func geriatrie(b *builder) {
	p := b.get("patient")
	r := b.get("relative")
	b.t(b.one("Consultation mémoire", "Évaluation gériatrique standardisée", "Hôpital de jour gériatrique") + " du ")
	b.date()
	b.t("\n")
	b.titled(p)
	b.t(", " + fmt.Sprint(70+b.r.IntN(30)) + " ans, vit " + b.one("seule", "seul", "avec son époux", "en résidence autonomie") + " à ")
	b.ville()
	b.t(", aidée par " + b.one("son fils ", "sa fille ", "sa nièce "))
	b.e(deid.Prenom, r.first)
	b.t(" qui passe " + b.one("tous les jours", "deux fois par semaine") + ".\n")
	b.t("MMSE " + fmt.Sprint(15+b.r.IntN(15)) + "/30, test de l'horloge " + b.one("normal", "perturbé") + ". ")
	b.t(b.one("Profil évocateur d'une maladie d'Alzheimer. ", "Syndrome parkinsonien discret. ", "Pas de trouble cognitif majeur. "))
	b.t("Chutes : " + b.one("aucune", "2 dans l'année") + ".\n")
	b.t(b.one("Elle est accompagnée de ", "Présence de ", "Entretien avec "))
	b.titled(r)
	b.t(", " + b.one("joignable au ", "tél. "))
	b.tel()
	b.t(".\n")
	b.t(b.one("Gériatre : ", "Dr "))
	b.prenomNom(b.get("doctor"), b.upper)
	b.t("\n")
}

func message(b *builder) {
	p := b.get("patient")
	me := b.get("doctor")
	b.t(b.one("Bonjour ", "Bonsoir ", "Cher "))
	b.dr(b.get("doctor2"))
	b.t(",\n")
	b.t(b.one("Je vous transmets ", "Voici ", "Pour info, ") + "le dossier de ")
	b.titled(p)
	b.t(b.one(" né le ", ", DDN ", " (né(e) le "))
	b.ddn()
	b.t(b.one("", ")") + ", " + b.one("joignable au ", "tél ", "portable "))
	b.tel()
	b.t(". " + b.one("RDV fixé au ", "Il sera convoqué le ", "À revoir le "))
	b.shortDate()
	b.t(" à " + b.hour() + ".\n")
	b.t(b.one("Cordialement,\n", "Bonne journée,\n", "Merci,\n"))
	b.prenomNom(me, b.upper)
	b.t("\n" + b.one("IDE coordinatrice", "Infirmière de pratique avancée", "Secrétariat médical", "Cadre de santé") + " — ")
	b.hopital()
	b.t("\n")
	b.mail(me, true)
	b.t("\n")
}

func lettreMT(b *builder) {
	p := b.get("patient")
	d := b.get("doctor")
	b.t(b.one("Docteur ", "Dr ", "Cabinet du Dr "))
	b.prenomNom(d, b.upper)
	b.t("\n" + b.one("Médecin généraliste", "Cardiologue", "Rhumatologue", "Endocrinologue") + "\n")
	b.adresse()
	b.t("\n")
	b.zipVille()
	b.t("\n" + b.one("Tél : ", "Tél. ", "☎ "))
	b.tel()
	b.t("\n\n")
	b.t(b.one("Le ", "", "À "))
	b.date()
	b.t("\n\n" + b.one("Cher confrère,", "Chère collègue,") + "\n")
	b.t("Je vous " + b.one("adresse ", "confie "))
	b.titled(p)
	b.t(", " + b.age() + " ans, pour " + b.one("avis concernant ", "prise en charge d'") + b.one("une douleur thoracique atypique", "un déséquilibre glycémique", "une dyspnée d'effort", "un nodule thyroïdien") + ". ")
	b.sentences(2 + b.r.IntN(2))
	b.t("\nJe vous remercie de l'attention que vous lui porterez.\n")
	b.nom(d, true)
	b.t("\n")
}

func dictee(b *builder) {
	// Dictated notes: little punctuation, lower-case words.
	p := b.get("patient")
	b.t(b.one("note d'évolution ", "visite du ", "contre-visite "))
	b.date()
	b.t(" : ")
	b.t(b.one("patient ", "patiente ", "mme ", "m. "))
	b.nom(p, true)
	b.t(" " + b.one("stable", "fébrile à 38,5", "douloureux", "confus la nuit") + ", ")
	b.t("vu avec le " + b.one("dr ", "Dr ", "docteur "))
	b.nom(b.get("doctor"), b.upper)
	b.t(" ce matin, ")
	b.drug()
	b.t(" " + b.one("poursuivi", "arrêté", "majoré") + ", ")
	b.t(b.one("appel de la fille ", "famille prévenue (fils ", "rdv avec l'assistante sociale "))
	b.e(deid.Prenom, b.get("relative").first)
	b.t(b.one("", ")") + ", sortie prévue " + b.one("demain", "lundi", "le "))
	s := b.sb.String()
	if s[len(s)-3:] == "le " {
		b.shortDate()
	}
	b.t(".\n")
}
