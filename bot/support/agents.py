"""Create an agent inbox account from the command line.

    python -m bot.support.agents create-agent --name "Sam Lee" --email sam@shop.example \\
        [--role admin] [--password-stdin]

The password is asked twice on the terminal (not echoed), or read from the first line of
standard input with ``--password-stdin`` (for scripts).  The first account of a shop
should be an admin: admins create the other agents in the inbox too.  Exit status 0 and
``created agent <id> <email> (<role>)``; 1 and the reason when the account is refused
(taken e-mail, password shorter than ``bot.store.agents.MIN_PASSWORD_CHARS``...).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.store.agents import ROLES, AgentError, create_agent
from bot.store.db import session_scope


def _password(from_stdin: bool) -> str:
    """The new password: stdin's first line, or typed twice on the terminal.

    Raises:
        AgentError: the two typed passwords differ.
    """
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AgentError("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    """Run the command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot.support.agents",
                                     description="Agent inbox accounts.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-agent", help="create an agent account")
    create.add_argument("--name", required=True, help="display name customers see")
    create.add_argument("--email", required=True, help="login e-mail address")
    create.add_argument("--role", choices=ROLES, default="agent")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    args = parser.parse_args(argv)
    try:
        password = _password(args.password_stdin)
        with session_scope() as session:
            agent = create_agent(session, args.name, args.email, password, args.role)
            line = f"created agent {agent.id} {agent.email} ({agent.role})"
    except AgentError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
