"""``glm-explore``: the command line for batch work, on the same core as the app's pages.

Each subcommand lives in one ``_cmd_*`` function, in a module per command group
(:mod:`.training`, :mod:`.regions`, :mod:`.embedding`, :mod:`.variants`, :mod:`.generation`,
:mod:`.genome_scores`); :mod:`.common` holds the options they share. A region argument is read by
:func:`glm_core.locus.resolve_locus`, the reader the app's pages use, so both accept the same
text. Errors in the user's input are printed as one clear line
(:func:`glm_core.errors.user_message`) and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from .embedding import add_embed_parser
from .generation import add_generation_parsers
from .genome_scores import add_score_genome_parser
from .regions import add_info_parser, add_scan_parsers
from .training import add_distill_parser, add_training_parsers
from .variants import add_score_vcf_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glm-explore", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    # This order is the order --help lists the commands in.
    add_training_parsers(commands)
    add_info_parser(commands)
    add_embed_parser(commands)
    add_scan_parsers(commands)
    add_score_vcf_parser(commands)
    add_generation_parsers(commands)
    add_distill_parser(commands)
    add_score_genome_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Library chatter off before transformers is imported: its warnings and "Loading weights" bars.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..errors import user_message

    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(
            f"glm-explore {args.command}: interrupted; run the same command again to continue where it stopped",
            file=sys.stderr,
        )
        return 130
    except (ValueError, KeyError, OSError) as error:
        # ValueError covers InputError; OSError covers missing, unreadable or unwritable files.
        print(f"glm-explore {args.command}: error: {user_message(error)}", file=sys.stderr)
        return 2
