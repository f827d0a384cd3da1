/*
 * cmd_completions: `ray completions bash|zsh|fish` prints a completion
 * script for that shell. Each script asks `ray __complete` (cli/complete.c)
 * for the candidates, so all three complete the same words, networks,
 * peers and ids included, and fall back to file names when there are none.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char bash_script[] =
	"# ray completion for bash: eval \"$(ray completions bash)\", or save it as\n"
	"# /usr/share/bash-completion/completions/ray\n"
	"_ray() {\n"
	"\tlocal IFS=$'\\n'\n"
	"\tCOMPREPLY=($(ray __complete \"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null))\n"
	"}\n"
	"complete -o default -F _ray ray\n";

static const char zsh_script[] =
	"#compdef ray\n"
	"# ray completion for zsh: save as _ray in a directory of $fpath, or\n"
	"# source <(ray completions zsh)\n"
	"_ray() {\n"
	"\tlocal -a c\n"
	"\tc=(\"${(@f)$(ray __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
	"\tif (( ${#c[@]} )) && [[ -n \"${c[1]}\" ]]; then compadd -a c; else _files; fi\n"
	"}\n"
	"compdef _ray ray\n";

static const char fish_script[] =
	"# ray completion for fish: ray completions fish > "
	"~/.config/fish/completions/ray.fish\n"
	"complete -c ray -a '(ray __complete (commandline -opc)[2..-1] (commandline -ct) "
	"2>/dev/null)'\n";

static int run(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc != 2)
		return cli_usage_error("completions", "expected bash, zsh or fish");
	if (strcmp(argv[1], "bash") == 0)
		fputs(bash_script, stdout);
	else if (strcmp(argv[1], "zsh") == 0)
		fputs(zsh_script, stdout);
	else if (strcmp(argv[1], "fish") == 0)
		fputs(fish_script, stdout);
	else
		return cli_usage_error("completions", "expected bash, zsh or fish, not '%s'",
				       argv[1]);
	return 0;
}

const struct command cmd_completions = {
	"completions",
	"print a shell completion script",
	"usage: ray completions bash|zsh|fish\n\n"
	"Prints the script on standard output (never JSON). It completes commands,\n"
	"their flags and words, and what the daemon knows: network names, peers'\n"
	"hostnames, invite, request, file offer and connection ids.\n\n"
	"  bash  eval \"$(ray completions bash)\" in ~/.bashrc, or save it as\n"
	"        /usr/share/bash-completion/completions/ray\n"
	"  zsh   source <(ray completions zsh) in ~/.zshrc\n"
	"  fish  ray completions fish > ~/.config/fish/completions/ray.fish\n",
	run,
};
