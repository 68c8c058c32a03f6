"""``imaginem people``: the persons of the face index — list, name, merge, split, hide.

    imaginem people [--json] [--all]        persons, most faces first (--all: hidden ones too)
    imaginem people name ID NAME            name a person (names are unique; "" clears it)
    imaginem people merge ID ID…            merge the others into the first
    imaginem people split FACE_ID [--to ID] the face leaves its person for a new one (or for ID), for good
    imaginem people hide ID / unhide ID     leave a person out of the list (its faces still match)

A person may be given by id or by name. Exit codes: 0 done; 2 unknown person or face, a name taken;
4 the face index cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from classifiers.backends.face_index import FaceIndexBackend, PersonsUnsupportedError
from pipeline.cli.consoles import output
from pipeline.cli.probe import probe_storage
from pipeline.people import UnknownPersonError, azure_face_note, clean_name, find_person, merge_persons, person_dict
from pipeline.services import Services
from pipeline.settings import Settings

__all__ = ["face_index", "register", "run"]

EXIT_OK, EXIT_USAGE = 0, 2
_PAGE = 1000


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("people", help="list, name, merge, split and hide persons (the face index)",
                                   description="Persons found by facematch, largest first.")
    parser.add_argument("--json", action="store_true",
                        help="print a list of {id, name, faces, photos, hidden, face_ids}")
    parser.add_argument("--all", action="store_true", help="include hidden persons")
    parser.add_argument("--limit", type=int, default=_PAGE, help=f"persons to show (default {_PAGE})")
    parser.add_argument("--offset", type=int, default=0, help="persons to skip, for the next page")
    parser.add_argument("--name", help="only the named persons whose name holds this text (any case)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    p = actions.add_parser("name", help="name a person (\"\" clears the name)")
    p.add_argument("person", help="person id or current name")
    p.add_argument("name")
    p = actions.add_parser("merge", help="merge persons into the first")
    p.add_argument("persons", nargs="+", help="person ids or names; the first keeps its id")
    p = actions.add_parser("split", help="move one face out of its person, for good")
    p.add_argument("face", help="face id (see --json or the dashboard)")
    p.add_argument("--to", help="the person it belongs to (default: a new person)")
    for hide in ("hide", "unhide"):
        p = actions.add_parser(hide, help=f"{hide} a person in the list")
        p.add_argument("person", help="person id or name")
    parser.set_defaults(handler=run)


def face_index(settings: Settings) -> FaceIndexBackend:
    """The face index the pipeline uses (storage probed first, so an unreachable one fails fast)."""
    services = Services.from_settings(settings)
    if not settings.face_index_connection_string:
        probe_storage(services.storage)
    return services.face_index


def run(args: argparse.Namespace, settings: Settings) -> int:
    errors = Console(stderr=True)
    note = azure_face_note(settings)
    if note:
        errors.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    index = face_index(settings)
    try:
        return _act(args, index)
    except UnknownPersonError as e:
        errors.print(Text.assemble(("people: ", "red"), str(e)))
        return EXIT_USAGE
    except KeyError as e:
        errors.print(Text.assemble(("people: ", "red"), str(e.args[0] if e.args else e)))
        return EXIT_USAGE
    except (ValueError, PersonsUnsupportedError) as e:
        errors.print(Text.assemble(("people: ", "red"), str(e)))
        return EXIT_USAGE
    finally:
        close = getattr(index, "close", None)
        if close is not None:
            close()


def _act(args: argparse.Namespace, index: FaceIndexBackend) -> int:
    console = output()
    match args.action:
        case None:
            return _list(args, index)
        case "name":
            person = find_person(index, args.person)
            name = clean_name(args.name)
            index.rename(person, name)
            said = f"{person} is now {name!r}" if name else f"{person} has no name now"
            console.print(said, highlight=False, markup=False)
        case "merge":
            first, *others = args.persons
            if not others:
                raise ValueError("merge needs at least two persons")
            merged = merge_persons(index, others, into=first)
            console.print(f"merged {len(merged)} person(s) into {find_person(index, first)}", highlight=False)
        case "split":
            target = None if args.to is None else find_person(index, args.to)
            person = index.split(args.face, to_person=target)
            console.print(f"face {args.face} now belongs to {person}", highlight=False)
        case "hide" | "unhide":
            person = find_person(index, args.person)
            index.hide(person, hidden=args.action == "hide")
            console.print(f"{person} {'hidden' if args.action == 'hide' else 'shown'}", highlight=False)
    return EXIT_OK


def _list(args: argparse.Namespace, index: FaceIndexBackend) -> int:
    persons = index.persons(offset=max(0, args.offset), limit=max(1, args.limit), include_hidden=args.all,
                            name=(args.name or "").strip() or None)
    if args.json:
        listed: list[dict[str, Any]] = []
        for person in persons:
            entry = person_dict(person)
            entry.pop("best_face")
            entry["face_ids"] = [f.face_id for f in index.faces_of(person.person_id)]
            listed.append(entry)
        sys.stdout.write(json.dumps(listed, ensure_ascii=False, indent=2) + "\n")
        return EXIT_OK
    console = output()
    if not persons:
        console.print(f"No persons in the {index.kind} face index yet.", highlight=False)
        return EXIT_OK
    table = Table(title=f"persons — {index.kind} face index", title_justify="left")
    for column in ("id", "name", "faces", "photos", "hidden"):
        table.add_column(column, justify="right" if column in ("faces", "photos") else "left", overflow="fold")
    for person in persons:
        table.add_row(person.person_id, Text(person.name or ""), str(person.faces), str(person.photos),
                      "yes" if person.hidden else "")  # a name is shown as text, never as markup
    console.print(table)
    if len(persons) == args.limit:
        console.print(f"More may follow: --offset {args.offset + args.limit}", style="dim")
    return EXIT_OK
