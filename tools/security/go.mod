module github.com/hygie-health/hygie/tools/security

go 1.26
