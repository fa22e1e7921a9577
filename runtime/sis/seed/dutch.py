"""Dutch names, places and numbers for the synthetic college. Invented people, real patterns."""

from __future__ import annotations

import random

FIRST_NAMES_M = ["Daan", "Sem", "Lucas", "Levi", "Finn", "Milan", "Noah", "Jesse", "Bram", "Luuk", "Thijs", "Lars", "Ruben", "Tim", "Thomas", "Max", "Sven", "Stijn", "Julian", "Jayden", "Mohammed", "Adam", "Youssef", "Ayoub", "Mees", "Gijs", "Jens", "Niels", "Rick", "Kevin", "Dylan", "Tygo", "Owen", "Hugo", "Boaz", "Sami", "Jorn", "Koen", "Wout", "Joris", "Mika", "Teun", "Ilias", "Rayan", "Kaan", "Emre", "Jort", "Siem", "Floris", "Olivier"]
FIRST_NAMES_V = ["Emma", "Julia", "Mila", "Tess", "Sophie", "Zoë", "Sara", "Nora", "Eva", "Anna", "Lotte", "Fleur", "Lisa", "Noa", "Sanne", "Femke", "Isa", "Roos", "Lieke", "Iris", "Yara", "Evi", "Amira", "Fatima", "Hiba", "Esra", "Elif", "Nina", "Maud", "Jasmijn", "Lynn", "Lina", "Noor", "Saar", "Lara", "Elin", "Naomi", "Kim", "Demi", "Amber", "Romy", "Vera", "Puck", "Hanna", "Indy", "Rosalie", "Merel", "Selin", "Ilse", "Chaimae"]
FIRST_NAMES_O = ["Sam", "Robin", "Kai", "Charlie", "Alex", "Noa", "Jip", "Bo", "Lou", "Quinn"]

#: (tussenvoegsel, last name); a third of Dutch surnames have a tussenvoegsel
LAST_NAMES = tuple(
    (tuple(part.replace("_", " ").split("/")) if "/" in part else ("", part.replace("_", " ")))
    for part in ["de/Jong", "Jansen", "de/Vries", "van_den/Berg", "van/Dijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "de/Boer", "Mulder", "de/Groot", "Bos", "Vos", "Peters", "Hendriks", "van/Leeuwen", "Dekker", "Brouwer", "de/Wit", "Dijkstra", "Smits", "de/Graaf", "van_der/Meer", "van_der/Linden", "Kok", "Jacobs", "de/Haan", "Vermeulen", "van_den/Heuvel", "van_der/Veen", "van_den/Broek", "de/Bruijn", "de/Bruin", "van_der/Heijden", "Schouten", "van/Beek", "Willems", "van/Vliet", "van_de/Ven", "Hoekstra", "Maas", "Verhoeven", "Koster", "van/Dam", "van_der/Wal", "Prins", "Blom", "Huisman", "Peeters", "de/Koning", "Yılmaz", "El_Amrani", "Bouzid", "Öztürk", "Kaya", "Nguyen", "Tahiri", "Boukhari", "Pinas", "Martina", "ter/Horst", "in_'t/Veld", "van_'t/Hof", "op_de/Beek", "Postma", "Wijnands", "Kuipers", "Veenstra", "Evers", "Timmermans"]
)

#: (city, CBS gemeentecode, first two digits of the postal code range, street names)
PLACES = tuple(
    (city, code, prefix, tuple(streets.split(", ")))
    for city, code, prefix, streets in (
        ("Utrecht", "0344", 35, "Biltstraat, Amsterdamsestraatweg, Kanaalweg, Vleutenseweg, Oudegracht, Nachtegaalstraat"),
        ("Amersfoort", "0307", 38, "Leusderweg, Hogeweg, Kapelweg, Soesterweg, Arnhemseweg, Vondellaan"),
        ("Nieuwegein", "0356", 34, "Structuurbaan, Batauweg, Zuidstedeweg, Herenstraat, Muntkade"),
        ("Zeist", "0355", 37, "Slotlaan, Thorbeckelaan, Laan van Vollenhove, Utrechtseweg, Montaubanstraat"),
        ("Houten", "0321", 39, "Onderdoor, Het Rond, Loerikseweg, Meidoornlaan, Lobelialaan"),
        ("Woerden", "0632", 34, "Rijnstraat, Jozef Israelslaan, Steinhagenseweg, Hoge Rijndijk"),
        ("Veenendaal", "0345", 39, "Hoofdstraat, Kerkewijk, Prins Bernhardlaan, Dijkstraat"),
        ("IJsselstein", "0353", 34, "Benschopperstraat, Utrechtsestraat, Eiteren, Achterweg"),
        ("De Bilt", "0310", 37, "Hessenweg, Soestdijkseweg Zuid, Dorpsstraat, Groenekanseweg"),
        ("Soest", "0342", 37, "Van Weedestraat, Steenhoffstraat, Kerkebuurt, Beukenlaan"),
    )
)


def bsn(rng: random.Random, taken: set[str]) -> str:
    """A nine-digit number that passes the elfproef (9·d1 + ... + 2·d8 − d9 ≡ 0 mod 11)."""
    while True:
        digits = [rng.randint(1, 6)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(w * d for w, d in zip(range(9, 1, -1), digits)) % 11
        if check == 10:
            continue
        number = "".join(map(str, digits)) + str(check)
        if number not in taken and int(number) != 0:
            taken.add(number)
            return number


def onderwijsnummer(rng: random.Random, taken: set[str]) -> str:
    """DUO's substitute for a BSN: starts with 10, weighted sum (9..1) ≡ 5 (mod 11).

    It deliberately does not pass the elfproef, so it is never mistaken for a BSN.
    """
    while True:
        digits = [1, 0] + [rng.randint(0, 9) for _ in range(6)]
        partial = sum(w * d for w, d in zip(range(9, 1, -1), digits))
        last = (5 - partial) % 11
        if last >= 8:  # 10 is no digit; with 8 the number would also pass the elfproef
            continue
        number = "".join(map(str, digits)) + str(last)
        if number not in taken:
            taken.add(number)
            return number


def postal_code(rng: random.Random, prefix: int) -> str:
    letters = "ABCDEGHJKLMNPRSTVWXZ"  # PTT never used F, I, O, Q, U, Y
    return f"{prefix}{rng.randint(0, 99):02d} {rng.choice(letters)}{rng.choice(letters)}"


def initials(first_names: str) -> str:
    return "".join(f"{name[0]}." for name in first_names.split())
