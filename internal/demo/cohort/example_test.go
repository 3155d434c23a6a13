package cohort_test

import (
	"os"

	"github.com/hygie-health/hygie/internal/demo/cohort"
)

func ExampleWriteCSV() {
	if err := cohort.WriteCSV(os.Stdout, cohort.Generate(5, 1)); err != nil {
		panic(err)
	}
	// Output:
	// patient_id,nom,prenom,nir,sexe,date_naissance,taille_cm,poids_kg,imc,hba1c,readmission_30j
	// P000001,Garcia,Hélène,261033520616053,F,1961-03-13,165.8,72.0,26.19,7.2,oui
	// P000002,Faure,François,183108621249657,M,1983-10-06,172.6,73.8,24.77,4.6,non
	// P000003,Fontaine,François,139082296910718,M,1939-08-19,167.6,66.8,23.78,6.1,oui
	// P000004,Guérin,Anne-Sophie,292107171241389,F,1992-10-14,158.6,54.7,21.75,5.3,non
	// P000005,Blanc,Laurent,181098628256507,M,1981-09-09,170.2,82.9,28.62,5.3,non
}
