package registry

// Float32LessThan exposes float32LessThan to the tests.
var Float32LessThan = float32LessThan
