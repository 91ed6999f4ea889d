"""The ``grade`` command: grade a folder of handed-in notebooks, or write a chapter's Gradescope autograder.

The command line alone lives here, so that :mod:`booktools.grading.grade` (the
grading) and :mod:`booktools.grading.gradescope` (which grades through it)
import each other in one direction only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from booktools import cli
from booktools.grading import grade, gradescope, sandbox

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        f"{cli.COMMAND} grade",
        "Grade a folder of handed-in notebooks of one exercise chapter, each in a sandbox; or write its Gradescope autograder.",
        "python -m booktools grade submissions/ --chapter ex2-mnist-cnn --out grades/ --jobs 2\n"
        "  python -m booktools grade --gradescope ex2-mnist-cnn --out dist/",
    )
    parser.add_argument("folder", type=Path, nargs="?", help="the folder of submitted notebooks")
    parser.add_argument("--chapter", help="the exercise chapter, for example ex2-mnist-cnn")
    parser.add_argument("--out", type=Path, help="the folder for the grades and the report (with --gradescope: for the zip)")
    parser.add_argument("--gradescope", metavar="CHAPTER", help="write CHAPTER's autograder zip for Gradescope instead")
    parser.add_argument("--assignment", help="the assignment's column in canvas.csv (default: the chapter)")
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root (default: current folder)")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds one submission may run (default: 300)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once, one core each (default: 1)")
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=3,
        help="GiB of memory a submission may use, each process and all together (default: 3)",
    )
    parser.add_argument(
        "--no-canary",
        action="store_true",
        help="skip grading the chapter's answer key first (it must score full marks, or nothing is graded)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without bubblewrap: the students' code then runs with your rights (unsafe)",
    )
    args = parser.parse_args(argv)
    if not args.time_limit > 0:
        parser.error(f"--time-limit {args.time_limit:g} must be a positive number of seconds, such as 300.")
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs} must be 1 or more: the number of submissions graded at once.")
    if not args.memory_limit > 0:
        parser.error(f"--memory-limit {args.memory_limit:g} must be a positive number of GiB, such as 3.")
    if args.gradescope:
        if args.folder or args.chapter:
            parser.error("--gradescope CHAPTER writes an autograder and grades nothing: leave out the folder and --chapter.")
        try:
            path = gradescope.write_zip(args.root, args.gradescope, args.out or Path("."), args.time_limit, args.memory_limit)
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {path}: upload it as the assignment's autograder (base image: Ubuntu 24.04)")
        return 0
    missing = [
        name for name, value in (("the folder", args.folder), ("--chapter", args.chapter), ("--out", args.out)) if not value
    ]
    if missing:
        parser.error(f"give {', '.join(missing)}: python -m booktools grade submissions/ --chapter CHAPTER --out grades/")
    if args.no_sandbox:
        print(
            "WARNING: grading WITHOUT a sandbox (--no-sandbox): each student's code runs with your rights and can "
            "read or change your files and the other submissions. summary.csv says so.",
            file=sys.stderr,
        )
    else:
        problem = sandbox.available()
        if problem:
            parser.error(
                f"cannot sandbox the submissions: {problem}. Install bubblewrap, or grade at your own risk with --no-sandbox."
            )
        if sandbox.barrier() == "setpriv":
            print(
                f"note: {sandbox.bubblewrap_refused()}; each submission runs instead as a user of its own (setpriv), "
                "with the same limits and seccomp filter, and the submissions, the answer keys and --out are root's "
                "alone while it grades. summary.csv says so.",
                file=sys.stderr,
            )
    limits = sandbox.Limits(memory_bytes=int(args.memory_limit * (1 << 30)))
    try:
        grade.grade_folder(
            args.folder,
            args.root,
            args.chapter,
            args.out,
            args.time_limit,
            args.jobs,
            limits,
            use_sandbox=not args.no_sandbox,
            assignment=args.assignment,
            canary=not args.no_canary,
        )
    except grade.CanaryFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
