package profile_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
)

func ExampleOf() {
	cols := []dataset.Column{
		{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID},
		{Name: "age", Type: dataset.TypeInteger, Role: dataset.RoleQuasiIdentifier},
		{Name: "entree", Type: dataset.TypeDate, Role: dataset.RoleDate},
		{Name: "glycemie", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "diabete", Type: dataset.TypeBoolean, Role: dataset.RoleTarget},
	}
	f := &dataset.Frame{Columns: cols}
	for _, c := range cols {
		f.Vecs = append(f.Vecs, dataset.NewVec(c.Type, 60))
	}
	for i := range 60 {
		f.Vecs[0].AppendString(fmt.Sprintf("IPP%04d", i/2)) // 30 patients
		age := int64(40 + (i*7)%25)
		if i == 59 {
			age = 101 // one very old patient: never shown
		}
		f.Vecs[1].AppendInt(age)
		f.Vecs[2].AppendInt(19_800 + int64(i*3)) // from 2024-03-18, every 3 days
		if i%10 == 0 {
			f.Vecs[3].AppendNull()
		} else {
			f.Vecs[3].AppendFloat(4.5 + float64(i%12)*0.25)
		}
		f.Vecs[4].AppendInt(int64(i%4) / 3) // true one row in 4
	}

	r, err := profile.Of(f, profile.Options{})
	if err != nil {
		panic(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		panic(err)
	}
	// Output:
	// {
	//  "rows": 60,
	//  "min_count": 5,
	//  "duplicate_rows": 0,
	//  "columns": [
	//   {
	//    "name": "ipp",
	//    "type": "string",
	//    "role": "patient_id",
	//    "count": 60,
	//    "missing": 0,
	//    "distinct": 30,
	//    "withheld": "identifier"
	//   },
	//   {
	//    "name": "age",
	//    "type": "integer",
	//    "role": "quasi_identifier",
	//    "count": 60,
	//    "missing": 0,
	//    "distinct": 26,
	//    "numeric": {
	//     "min": 40,
	//     "max": null,
	//     "mean": 52.71666666666667,
	//     "std": 9.667509217129139,
	//     "quantiles": {
	//      "p1": 40,
	//      "p5": 40,
	//      "p25": 45,
	//      "p50": 50,
	//      "p75": 55,
	//      "p95": null,
	//      "p99": null
	//     },
	//     "histogram": {
	//      "width": 5,
	//      "bins": [
	//       {
	//        "lo": 40,
	//        "hi": 45,
	//        "count": 12
	//       },
	//       {
	//        "lo": 45,
	//        "hi": 50,
	//        "count": 12
	//       },
	//       {
	//        "lo": 50,
	//        "hi": 55,
	//        "count": 12
	//       },
	//       {
	//        "lo": 55,
	//        "hi": 60,
	//        "count": 11
	//       },
	//       {
	//        "lo": 60,
	//        "hi": null,
	//        "count": 13
	//       }
	//      ]
	//     },
	//     "top": [],
	//     "coarsened": true
	//    }
	//   },
	//   {
	//    "name": "entree",
	//    "type": "date",
	//    "role": "date",
	//    "count": 60,
	//    "missing": 0,
	//    "distinct": 60,
	//    "temporal": {
	//     "min": "2024-03-18",
	//     "max": "2024-09-11",
	//     "granularity": "month",
	//     "timeline": [
	//      {
	//       "period": "2024-03",
	//       "start": "2024-03-01",
	//       "end": "2024-04-01",
	//       "count": null,
	//       "suppressed": true,
	//       "label": "≥5"
	//      },
	//      {
	//       "period": "2024-04",
	//       "start": "2024-04-01",
	//       "end": "2024-05-01",
	//       "count": 10
	//      },
	//      {
	//       "period": "2024-05",
	//       "start": "2024-05-01",
	//       "end": "2024-06-01",
	//       "count": 10
	//      },
	//      {
	//       "period": "2024-06",
	//       "start": "2024-06-01",
	//       "end": "2024-07-01",
	//       "count": 10
	//      },
	//      {
	//       "period": "2024-07",
	//       "start": "2024-07-01",
	//       "end": "2024-08-01",
	//       "count": 11
	//      },
	//      {
	//       "period": "2024-08",
	//       "start": "2024-08-01",
	//       "end": "2024-09-01",
	//       "count": 10
	//      },
	//      {
	//       "period": "2024-09",
	//       "start": "2024-09-01",
	//       "end": "2024-10-01",
	//       "count": null,
	//       "suppressed": true,
	//       "label": "<5"
	//      }
	//     ]
	//    }
	//   },
	//   {
	//    "name": "glycemie",
	//    "type": "float",
	//    "role": "feature",
	//    "count": 54,
	//    "missing": 6,
	//    "distinct": 12,
	//    "numeric": {
	//     "min": 4.5,
	//     "max": 7.25,
	//     "mean": 5.888888888888889,
	//     "std": 0.8710039028283044,
	//     "quantiles": {
	//      "p1": 4.5,
	//      "p5": 4.5,
	//      "p25": 5.25,
	//      "p50": 5.875,
	//      "p75": 6.6875,
	//      "p95": 7.25,
	//      "p99": 7.25
	//     },
	//     "histogram": {
	//      "width": 1,
	//      "bins": [
	//       {
	//        "lo": 4,
	//        "hi": 5,
	//        "count": 9
	//       },
	//       {
	//        "lo": 5,
	//        "hi": 6,
	//        "count": 18
	//       },
	//       {
	//        "lo": 6,
	//        "hi": 7,
	//        "count": 18
	//       },
	//       {
	//        "lo": 7,
	//        "hi": 8,
	//        "count": 9
	//       }
	//      ]
	//     },
	//     "top": []
	//    }
	//   },
	//   {
	//    "name": "diabete",
	//    "type": "boolean",
	//    "role": "target",
	//    "count": 60,
	//    "missing": 0,
	//    "distinct": 2,
	//    "boolean": {
	//     "true": {
	//      "count": 15
	//     },
	//     "false": {
	//      "count": 45
	//     }
	//    }
	//   }
	//  ],
	//  "correlations": {
	//   "columns": [
	//    "glycemie",
	//    "diabete"
	//   ],
	//   "pearson": [
	//    [
	//     1,
	//     0.259533259821
	//    ],
	//    [
	//     0.259533259821,
	//     1
	//    ]
	//   ]
	//  }
	// }
}
