// Package packaging holds the package definitions (nfpm.yaml), maintainer
// scripts, the configuration file the packages install, the man page
// generator (man/) and the container boot test (e2e/). It has no code of
// its own; its tests keep the shipped config.toml and version.sh honest.
package packaging
