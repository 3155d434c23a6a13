package cohort

// Short lists of common French names. Generate combines them at random, so
// the patients are fictitious.

var lastNames = []string{
	"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
	"Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel",
	"Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
	"Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François",
	"Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller",
	"Henry", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Fontaine",
	"Chevalier", "Robin", "Le Gall", "Le Goff", "Caron", "Masson",
}

var firstNamesF = []string{
	"Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie",
	"Isabelle", "Sylvie", "Martine", "Christine", "Valérie", "Sandrine",
	"Céline", "Julie", "Aurélie", "Camille", "Léa", "Manon", "Chloé",
	"Emma", "Inès", "Sarah", "Hélène", "Anne-Sophie", "Élise", "Nicole",
}

var firstNamesM = []string{
	"Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques",
	"Daniel", "Patrick", "Nicolas", "Christophe", "Stéphane", "Olivier",
	"Laurent", "Julien", "Thomas", "Maxime", "Lucas", "Hugo", "Antoine",
	"Jean-Pierre", "François", "Éric", "Sébastien", "Mathieu", "Louis",
}
