// Package dp releases differentially private statistics of dataset
// versions — counts, histograms over declared categories and bins, bounded
// sums and means, quantiles — and keeps each dataset's privacy budget.
//
// Why: a count of patients by age band and sex, computed on pseudonymised
// data, may still single a patient out. Differential privacy bounds what any
// release, and any sequence of releases within the budget, reveals about one
// patient, whatever else an analyst knows, so these aggregates may go to a
// wider team than the data.
//
// The unit of privacy is the patient: neighbouring datasets differ by all the
// rows of one patient (added or removed). A query names the patient column
// (by default the column with role patient_id) and a contribution bound m
// (max rows per patient, default 1): each patient keeps at most m rows,
// chosen reproducibly from that patient's own rows (bound.go), so one
// patient moves each count by at most m and each sum by at most m·max(|lo|,
// |hi|).
//
// Everything that shapes the output is declared, never read from the data:
// bounds, categories, bins, quantile grids, and the grid of real-valued
// releases. Values outside the bounds are clamped; rows whose group value is
// missing or undeclared fall in no cell (undeclared values are never
// revealed) and a declared category absent from the data is released as
// 0 + noise like any other.
//
// Noise is exact (package noise: Canonne, Kamath and Steinke 2020), on
// integers: counts get discrete Laplace (ε-DP) or discrete Gaussian noise;
// sums and means are computed on a power-of-two grid whose step comes from
// the bounds and ε (about 2⁻²⁴ of the noise's scale), noised in grid units,
// and released as exact multiples of the step; quantiles use the exponential
// mechanism over a declared grid, sampled exactly by rejection. Gaussian
// noise is calibrated through zero-concentrated DP: the query's (ε, δ) give
// ρ with ε = ρ + 2√(ρ ln(1/δ)), and σ² = Δ₂²/(2ρ), rounded up.
//
// The budget (Service) composes sequentially: the ε and δ of a dataset's
// releases add up, across all its versions, and a release that would go
// beyond the budget's totals is refused. Spending, the release record and
// its audit event commit in one transaction under the budget row's lock.
// See docs/dp.md.
package dp
