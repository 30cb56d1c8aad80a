# bash completion for ecs-keyagent(8)                      -*- shell-script -*-
#
# Installed as /usr/share/bash-completion/completions/ecs-keyagent, where
# bash-completion loads it the first time ecs-keyagent is completed (see
# bash-completion's README). It needs nothing from bash-completion itself,
# so `source` works too. Completes the commands, each command's flags
# (--flag VALUE and --flag=VALUE), --log-level's values, --user from the
# local users (from DIR/etc/passwd after --root DIR), files for --config
# and --key, and directories for --root. packaging/completion_test.go keeps
# the lists below equal to the binary's -h output.

_ecs_keyagent()
{
    # $2 is the word readline completes: after "--flag=" bash sets
    # COMP_WORDS to (... --flag =) or (... --flag = VALUE), and $2 to "" or
    # VALUE, since '=' is in COMP_WORDBREAKS.
    local cur=${2-} cword=$COMP_CWORD flag='' i w cmd='' root=''
    local -a words=("${COMP_WORDS[@]}")
    local commands='sync run status doctor check-config restore-sshd version help'
    local global='--log-level --version --help'
    local levels='debug info warn error'

    if [[ ${words[cword]} == = ]]; then
        cur='' flag=${words[cword-1]}
    elif ((cword > 1)) && [[ ${words[cword-1]} == = ]]; then
        flag=${words[cword-2]}
    elif ((cword > 0)); then
        flag=${words[cword-1]}
    fi

    # The command is the first word that is not a global flag or its value;
    # --root DIR is remembered for --user.
    for ((i = 1; i < cword; i++)); do
        w=${words[i]}
        if [[ -z $cmd ]]; then
            case $w in
            --log-level | -log-level)
                [[ ${words[i + 1]-} == = ]] && ((i++))
                ((i++))
                ;;
            -*) ;;
            *) cmd=$w ;;
            esac
        elif [[ $w == --root || $w == -root ]]; then
            [[ ${words[i + 1]-} == = ]] && ((i++))
            ((i + 1 < cword)) && root=${words[i + 1]/#\~/$HOME}
        fi
    done

    # The value of a flag that takes one.
    case $flag in
    --log-level | -log-level)
        mapfile -t COMPREPLY < <(compgen -W "$levels" -- "$cur")
        return
        ;;
    --user | -user)
        if [[ -n $root && -r $root/etc/passwd ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$(cut -d: -f1 -- "$root/etc/passwd")" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -u -- "$cur")
        fi
        return
        ;;
    --config | -config | --key | -key)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --root | -root)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    --endpoint | -endpoint | --fingerprint | -fingerprint)
        # a URL or a SHA256:... fingerprint: nothing to offer
        COMPREPLY=()
        return
        ;;
    esac

    local flags
    case $cmd in
    '')
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "$global" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
        fi
        return
        ;;
    help)
        # help takes one command
        for ((i = 1; i < cword; i++)); do
            [[ ${words[i]} == help ]] && break
        done
        if ((cword == i + 1)); then
            mapfile -t COMPREPLY < <(compgen -W "${commands% help}" -- "$cur")
        fi
        return
        ;;
    sync) flags='--config --dry-run --endpoint --json --log-level --root --user' ;;
    run) flags='--config --endpoint --log-level --root --user' ;;
    status) flags='--config --endpoint --json --log-level --root --user' ;;
    doctor) flags='--config --endpoint --fingerprint --json --key --log-level --root --user' ;;
    check-config) flags='--config --log-level --root' ;;
    restore-sshd) flags='--config --dry-run --log-level --root' ;;
    version) flags='--log-level' ;;
    *) return ;;
    esac
    # The commands take no arguments, only flags.
    mapfile -t COMPREPLY < <(compgen -W "$flags --help" -- "$cur")
} &&
    complete -F _ecs_keyagent ecs-keyagent

# ex: filetype=sh
