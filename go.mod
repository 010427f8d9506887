module github.com/basalt-lava/basalt

go 1.26.8

require go.yaml.in/yaml/v3 v3.0.6

require (
	github.com/google/go-cmp v0.7.0
	github.com/klauspost/compress v1.20.3
	github.com/ulikunitz/xz v0.5.17
)
