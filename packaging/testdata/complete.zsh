# Completes each line read from standard input in an interactive zsh, as a
# user pressing TAB would, and prints the candidates the completion system
# was given for it:
#
#	zsh -f complete.zsh FPATH_DIR < lines
#
# Output: "@@ LINE" before each line's candidates, one candidate a line.
# An interactive zsh runs on a pseudo-terminal (zsh/zpty), with compinit
# loading completion functions from FPATH_DIR, so the file is found and
# loaded the way an installed one is (its #compdef line). compadd, which
# every completion function ends in, is wrapped to record the words it
# adds that match what is on the line (compadd -O; see zshcompwid(1)).
zmodload zsh/zpty || exit 1
dir=$1
out=$(mktemp) || exit 1

zpty comp zsh -f -i || exit 1
# Only the completion system's own directories beside FPATH_DIR: compinit
# reads the first line of every file in $fpath.
zpty -w comp "PS1='' PS2='' RPS1=''; unsetopt beep; unset zle_bracketed_paste"
zpty -w comp "fpath=(${(q)dir} \${(M)fpath:#*/Completion(|/Base|/Unix|/Zsh)})"
zpty -w comp "autoload -Uz compinit && compinit -u -D"
zpty -w comp "zstyle ':completion:*' list-prompt ''; zstyle ':completion:*' select-prompt ''; LISTMAX=100000"
zpty -w comp 'compadd() {
  if [[ ${(j: :)@} == *-[OAD]* ]]; then builtin compadd "$@"; return; fi
  local -a __hits
  builtin compadd -O __hits "$@"
  (( $#__hits )) && print -rl -- $__hits >> '$out'
  builtin compadd "$@"
}'
# TAB completes, then says so on the terminal: each line is typed only
# after the one before it was completed (zsh may skip completing a TAB
# read as typeahead).
zpty -w comp 'complete-and-say() { zle complete-word; print -n "<do""ne>" > /dev/tty; }'
zpty -w comp 'zle -N complete-and-say && bindkey "^I" complete-and-say'
while IFS= read -r line; do
  zpty -w comp "print -r -- ${(qq):-@@ $line} >> $out"
  # the line, TAB, then ^U to clear it
  zpty -w -n comp "$line"$'\t'
  zpty -r -m comp reply '*<done>*' || { rm -f $out; exit 1; }
  zpty -w -n comp $'\C-u'
done
zpty -w comp "print -r -- '<''end>'"
zpty -r -m comp reply '*<end>*' || { rm -f $out; exit 1; }
zpty -d comp
cat $out
rm -f $out
