// Package anon turns a table into a k-anonymous, l-diverse or t-close one by
// global recoding: every quasi-identifier is generalised to one level of its
// hierarchy, and the records that still break the privacy model are suppressed
// (up to a limit). The transformation is chosen by searching the lattice of
// generalisation levels for the one that minimises a utility metric.
//
// The definitions follow ARX (arx.deidentifier.org) so that results can be
// compared with it: the metrics are computed as ARX computes them (including
// how suppressed records count and how values are normalised), the
// suppression limit is floor(fraction × rows), suppressed records come out
// with every quasi-identifier replaced by "*", and "nodes checked" counts the
// transformations whose equivalence classes were actually computed. The
// search is an optimal, Flash-style traversal with predictive tagging and
// pruning by lower bounds; a greedy heuristic handles lattices too large to
// search. docs/anonymization.md says how the results were checked against
// ARX's own.
//
// The algorithms work on an in-memory table of strings (Table); quasi-
// identifier values are dictionary-encoded and their generalisations
// precomputed per level, so a check is a hash group-by over packed integers.
package anon
