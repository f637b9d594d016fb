# WardWatch. The two commands a new user needs:
#   make run    build and start WardWatch with a simulated hospital on http://127.0.0.1:8080
#   make test   provision test dependencies and run every check and test

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run test build generate bench clean

run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/wardwatch demo

test:
	./scripts/test.sh

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/wardwatch ./cmd/wardwatch

generate:
	$(GO) tool templ generate

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin var
