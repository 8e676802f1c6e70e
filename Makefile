# The two commands a newcomer needs: `make run` and `make test`. Each installs what it needs.
.PHONY: deps run test bench

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PACKAGES := cmake nasm libvips-tools

# Debian packages: cmake + nasm build libjpeg-turbo; libvips-tools is the comparison peer.
# Idempotent: installs only what is missing.
deps:
	@missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Renders a real camera photo (with GPS) with the `thumb` preset and shows what the output carries.
run: deps
	cargo build --release
	./target/release/thumbkit inspect fixtures/IMG_9424.JPG
	./target/release/thumbkit render --preset thumb fixtures/IMG_9424.JPG -o thumb.jpg
	./target/release/thumbkit inspect thumb.jpg

test: deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test

bench: deps
	cargo build --release
	./target/release/thumbkit bench
