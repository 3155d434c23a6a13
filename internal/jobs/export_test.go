package jobs

// Internals exported to the tests of package jobs_test.
var (
	ShellQuote    = shellQuote
	BatchScript   = batchScript
	SlurmResult   = slurmResult
	ParseScontrol = parseScontrol
	ParseSacct    = parseSacct
)
