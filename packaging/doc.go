// Package packaging holds the package definitions (nfpm.yaml), maintainer
// scripts, the configuration file the packages install, the Debian
// changelog's source and generator (changelog, changelog.sh), the bash and
// zsh completion (completion/), the man page generator (man/), the
// container boot test (e2e/) and the script that makes the sshd of other
// Debian releases runnable for `make sshd-versions` (sshd-versions/). It has no code of its own; its tests keep
// the shipped config.toml, version.sh, the changelog and the completions
// honest (the completions run in bash and zsh against the binary's -h),
// and run docs/demo.sh as `make demo` does.
package packaging
