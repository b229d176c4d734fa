"""A realistic demo shop: a Colombian neighbourhood store with customers and two years of sales."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import SqliteDatabase

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, format_count
from smbcrm.core.phones import phone_search_text
from smbcrm.core.progress import CancelToken, ProgressCallback, no_progress
from smbcrm.models.tables import Customer, Product, Purchase
from smbcrm.services.settings import save_settings

MAX_CUSTOMERS = 1_000_000
DEMO_SHOP_NAME = "Tienda La Esquina"
HISTORY_DAYS = 730
_CHUNK = 2_000
_UTC_OFFSET = timedelta(hours=5)  # Colombia is UTC-5 all year

FEMALE = (
    "María", "Ana", "Laura", "Camila", "Valentina", "Daniela", "Sofía", "Isabella", "Mariana",
    "Carolina", "Paula", "Andrea", "Natalia", "Diana", "Juliana", "Luisa", "Catalina", "Alejandra",
    "Gabriela", "Sara", "Paola", "Adriana", "Claudia", "Sandra", "Marta", "Gloria", "Luz Marina",
    "Ángela", "Patricia", "Lucía", "Manuela", "Salomé", "Yolanda", "Beatriz", "Mónica", "Lina",
    "Ximena", "Viviana", "Johana", "Liliana", "María José", "Ana María", "Luz Dary", "Yesenia",
)  # fmt: skip
MALE = (
    "Juan", "Carlos", "Andrés", "Santiago", "Sebastián", "Felipe", "Alejandro", "Daniel", "David",
    "Jorge", "Luis", "José", "Miguel", "Diego", "Javier", "Ricardo", "Mauricio", "Camilo", "Julián",
    "Nicolás", "Mateo", "Samuel", "Esteban", "Óscar", "Hernán", "Fernando", "Gustavo", "Jaime",
    "Álvaro", "Fabián", "Iván", "Édgar", "William", "Jhon", "Wilson", "Rafael", "Sergio", "Germán",
    "Héctor", "Tomás", "Juan Pablo", "Juan David", "Juan Camilo", "Luis Fernando",
)  # fmt: skip
SURNAMES = (
    "Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez",
    "Ramírez", "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Torres", "Castro",
    "Gutiérrez", "Ruiz", "Suárez", "Ortiz", "Álvarez", "Restrepo", "Ramos", "Valencia", "Cárdenas",
    "Quintero", "Mejía", "Ospina", "Zapata", "Londoño", "Arango", "Giraldo", "Cardona", "Osorio",
    "Salazar", "Montoya", "Henao", "Agudelo", "Marín", "Betancur", "Correa", "Patiño", "Rincón",
    "Peña", "Acosta", "Herrera", "Medina", "Cortés", "Parra", "Ríos", "Vélez", "Duque", "Córdoba",
    "Bermúdez", "Castaño", "Mosquera", "Palacios", "Escobar",
)  # fmt: skip
CITIES = (  # city, department, relative weight (roughly by population)
    ("Bogotá", "Bogotá D.C.", 30), ("Medellín", "Antioquia", 14), ("Cali", "Valle del Cauca", 10),
    ("Barranquilla", "Atlántico", 7), ("Cartagena", "Bolívar", 5), ("Bucaramanga", "Santander", 5),
    ("Cúcuta", "Norte de Santander", 4), ("Pereira", "Risaralda", 4), ("Manizales", "Caldas", 3),
    ("Ibagué", "Tolima", 3), ("Santa Marta", "Magdalena", 3), ("Villavicencio", "Meta", 3),
    ("Pasto", "Nariño", 2), ("Montería", "Córdoba", 2), ("Neiva", "Huila", 2),
    ("Armenia", "Quindío", 2), ("Envigado", "Antioquia", 2), ("Bello", "Antioquia", 2),
    ("Soacha", "Cundinamarca", 2), ("Chía", "Cundinamarca", 1), ("Popayán", "Cauca", 1),
    ("Tunja", "Boyacá", 1),
)  # fmt: skip
MOBILE_PREFIXES = (300, 301, 302, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319,
                   320, 321, 350, 351)  # fmt: skip
EMAIL_DOMAINS = (("gmail.com", 55), ("hotmail.com", 20), ("outlook.com", 8), ("yahoo.com", 6),
                 ("yahoo.es", 3), ("icloud.com", 3), ("live.com", 3), ("une.net.co", 2))  # fmt: skip
TAGS = (("Vecino del barrio", 0.25), ("Instagram", 0.12), ("Referido", 0.10), ("VIP", 0.04),
        ("Mayorista", 0.03), ("Empresa", 0.02))  # fmt: skip
NOTES = (
    "Prefiere que la llamen en la tarde.",
    "Pregunta siempre por productos sin azúcar.",
    "Tiene dos perros; le interesan las promociones de concentrado.",
    "Paga con transferencia; pide la factura a nombre de su empresa.",
    "Pidió que le avisemos cuando llegue el café de Huila.",
    "Cliente desde que abrimos la tienda.",
)
# Category, popularity weight, products (name, price in whole pesos).
CATALOGUE = (
    ("Café", 14, (("Café molido 500 g", 18_900), ("Café en grano 1 kg", 42_000),
                  ("Café especial Huila 250 g", 24_500), ("Café descafeinado 250 g", 16_900),
                  ("Filtros de papel x100", 7_500), ("Prensa francesa", 65_000))),
    ("Panadería", 16, (("Pan de bono x6", 9_000), ("Almojábanas x6", 9_500),
                       ("Pandeyuca x6", 8_500), ("Pan tajado integral", 7_800),
                       ("Torta de zanahoria", 32_000), ("Buñuelos x6", 8_000))),
    ("Lácteos", 14, (("Leche entera 1 L", 4_300), ("Queso campesino 500 g", 12_500),
                     ("Yogur griego 1 kg", 14_900), ("Kumis 1 L", 6_200),
                     ("Mantequilla 250 g", 8_900), ("Arequipe 500 g", 11_500))),
    ("Bebidas", 12, (("Agua sin gas 600 ml", 2_500), ("Jugo de naranja 1 L", 7_900),
                     ("Gaseosa 1,5 L", 5_500), ("Té frío de limón 1,5 L", 6_000),
                     ("Cerveza artesanal 330 ml", 8_500), ("Aromática de frutas x20", 5_900))),
    ("Snacks y dulces", 10, (("Chocolatina", 2_800), ("Papas de limón 110 g", 5_200),
                             ("Maní salado 200 g", 6_500), ("Bocadillo veleño x12", 9_800),
                             ("Galletas de avena", 4_900), ("Chocolate de mesa 500 g", 11_900))),
    ("Frutas y verduras", 10, (("Banano x kg", 3_200), ("Mango tommy x kg", 6_900),
                               ("Tomate chonto x kg", 4_800), ("Papa criolla x kg", 5_500),
                               ("Limón tahití x kg", 4_200), ("Granadilla x6", 9_000))),
    ("Aseo del hogar", 8, (("Detergente 2 kg", 24_900), ("Lavaloza 750 ml", 8_900),
                           ("Suavizante 1 L", 12_500), ("Limpiador multiusos 1 L", 9_900),
                           ("Esponjas x3", 4_500), ("Bolsas de basura x30", 7_900))),
    ("Cuidado personal", 6, (("Champú 400 ml", 16_900), ("Jabón de baño x3", 9_500),
                             ("Crema dental 100 ml", 7_200), ("Desodorante", 14_500),
                             ("Protector solar 120 ml", 38_000), ("Cepillo de dientes", 5_900))),
    ("Mascotas", 5, (("Concentrado perro 4 kg", 58_000), ("Concentrado gato 3 kg", 52_000),
                     ("Snacks para perro", 9_900), ("Arena para gato 4 kg", 21_000),
                     ("Juguete para perro", 15_000))),
    ("Papelería", 3, (("Cuaderno 100 hojas", 6_500), ("Esferos x3", 4_200),
                      ("Colores x12", 12_900), ("Block iris", 5_800), ("Pegante en barra", 3_500))),
    ("Regalos y detalles", 2, (("Caja de regalo", 25_000), ("Tarjeta de cumpleaños", 6_000),
                               ("Velas aromáticas", 28_000), ("Mug decorado", 22_000))),
)  # fmt: skip
CONSENT_HOW = ("counter", "form", "whatsapp")
LINES_PER_PURCHASE = ((1, 45), (2, 30), (3, 15), (4, 7), (5, 3))
QUANTITIES = ((1, 75), (2, 18), (3, 7))


@dataclass(frozen=True)
class DemoResult:
    customers: int
    products: int
    categories: int
    purchases: int
    purchase_lines: int


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in plain.lower() if char.isalnum())


def _weighted(rng: random.Random, pairs):
    values = [value for value, _weight in pairs]
    cumulative = []
    total = 0
    for _value, weight in pairs:
        total += weight
        cumulative.append(total)
    return lambda: rng.choices(values, cum_weights=cumulative)[0]


class _Generator:
    """Draws one customer at a time with the same random stream, so a seed gives the same shop."""

    def __init__(self, seed: int, today: date, currency_digits: int) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.minor = 10**currency_digits
        rng = self.rng
        self.city = _weighted(rng, [((c, r), w) for c, r, w in CITIES])
        self.domain = _weighted(rng, EMAIL_DOMAINS)
        self.lines_count = _weighted(rng, LINES_PER_PURCHASE)
        self.quantity = _weighted(rng, QUANTITIES)
        self.category_of = _weighted(
            rng, [(index, w) for index, (_n, w, _p) in enumerate(CATALOGUE)]
        )
        self.emails: set[str] = set()
        self.products: list[list[tuple[int, int]]] = []  # per category: (product id, price minor)

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        first_slug, last_slug = _slug(first), _slug(last)
        pattern = rng.random()
        if pattern < 0.4:
            local = f"{first_slug}.{last_slug}"
        elif pattern < 0.7:
            local = f"{first_slug}{last_slug}{rng.randint(1, 99)}"
        elif pattern < 0.85:
            local = f"{first_slug[0]}{last_slug}{rng.randint(1960, 2006)}"
        else:
            local = f"{first_slug}_{last_slug}"
        address = f"{local}@{self.domain()}"
        while address in self.emails:
            address = f"{local}{rng.randint(1, 9999)}@{self.domain()}"
        self.emails.add(address)
        return address

    def phone(self) -> tuple[str, str, str]:
        rng = self.rng
        prefix = rng.choice(MOBILE_PREFIXES)
        number = f"{rng.randint(0, 9_999_999):07d}"
        national = f"{prefix}{number}"
        e164 = f"+57{national}"
        style = rng.random()
        if style < 0.5:
            typed = f"{prefix} {number[:3]} {number[3:]}"
        elif style < 0.75:
            typed = f"{prefix}{number}"
        elif style < 0.9:
            typed = f"+57 {prefix} {number}"
        else:
            typed = f"({prefix}) {number[:3]}-{number[3:]}"
        return typed, e164, phone_search_text(typed, e164, national)

    def purchase_times(self, created: datetime) -> list[datetime]:
        rng = self.rng
        history_start = datetime.combine(
            self.today - timedelta(days=HISTORY_DAYS), datetime.min.time()
        )
        start = max(created, history_start)
        end = datetime.combine(self.today, datetime.min.time())
        if rng.random() < 0.05 or start >= end:
            return []  # registered, never bought (yet)
        kind = rng.random()
        if kind < 0.18:
            interval = rng.uniform(12, 27)  # loyal
        elif kind < 0.55:
            interval = rng.uniform(40, 120)  # regular
        else:
            interval = rng.uniform(150, 450)  # occasional
        if rng.random() < 0.3:  # lapsed: stopped coming at some point
            end = start + (end - start) * rng.random()
        span = (end - start).total_seconds()
        count = max(1, int(span / 86400 / interval + rng.random()))
        days = sorted(rng.random() * span for _i in range(count))
        times = []
        for offset in days:
            moment = start + timedelta(seconds=offset)
            local = moment.replace(
                hour=rng.randint(8, 20), minute=rng.randint(0, 59), second=rng.randint(0, 59)
            )
            times.append(local + _UTC_OFFSET)
        return times


def _empty_shop(db: SqliteDatabase) -> bool:
    return not (
        Customer.select().exists() or Product.select().exists() or Purchase.select().exists()
    )


def create_demo_shop(
    db: SqliteDatabase,
    customers: int = 2_000,
    seed: int = 1,
    *,
    today: date | None = None,
    shop_name: str = DEMO_SHOP_NAME,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DemoResult:
    """Fill an empty shop with a demo in one transaction: all of it, or (if cancelled) nothing."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise UserError(
            _("A demo shop has between 1 and {limit} customers.").format(
                limit=format_count(MAX_CUSTOMERS)
            )
        )
    if not _empty_shop(db):
        raise UserError(
            _("The demo can only fill an empty shop, and this one already has data. "
              "Create a new shop file for the demo.")
        )  # fmt: skip
    today = today or date.today()
    generator = _Generator(seed, today, currency_digits=2)
    rng = generator.rng
    now = datetime.combine(today, datetime.min.time()) + timedelta(hours=12)
    stamp = str(now)
    connection = db.connection()
    purchases = lines = 0
    with db.atomic():
        save_settings(db, shop_name=shop_name or DEMO_SHOP_NAME, country="CO", currency="COP",
                      welcome_done=True, is_demo=True)  # fmt: skip
        product_id = 0
        for category_id, (category, _weight, items) in enumerate(CATALOGUE, start=1):
            connection.execute(
                "INSERT INTO category (id, name) VALUES (?, ?)", (category_id, category)
            )
            in_category = []
            for name, pesos in items:
                product_id += 1
                price = pesos * generator.minor
                connection.execute(
                    "INSERT INTO product (id, sku, name, category_id, price) VALUES (?, ?, ?, ?, ?)",
                    (product_id, f"P{product_id:04d}", name, category_id, price),
                )
                in_category.append((product_id, price))
            generator.products.append(in_category)
        for tag_id, (tag, _share) in enumerate(TAGS, start=1):
            connection.execute("INSERT INTO tag (id, name) VALUES (?, ?)", (tag_id, tag))

        purchase_id = line_id = 0
        for chunk_start in range(0, customers, _CHUNK):
            if cancel is not None:
                cancel.raise_if_cancelled()
            customer_rows, tag_rows, note_rows, purchase_rows, line_rows = [], [], [], [], []
            consent_rows: list[tuple] = []
            for customer_id in range(chunk_start + 1, min(customers, chunk_start + _CHUNK) + 1):
                female = rng.random() < 0.55
                first = rng.choice(FEMALE if female else MALE)
                last = f"{rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"
                has_email = rng.random() < 0.76
                email = generator.email(first, last.split()[0]) if has_email else None
                if email is None:
                    consent = "unknown"
                else:
                    consent = (
                        "granted" if rng.random() < 0.93 else rng.choice(("unknown", "withdrawn"))
                    )
                typed, e164, digits = generator.phone() if rng.random() < 0.9 else ("", None, "")
                city, region = generator.city()
                birthday = None
                if rng.random() < 0.8:
                    birthday = str(date(1950, 1, 1) + timedelta(days=rng.randint(0, 20_800)))
                created = datetime.combine(today, datetime.min.time()) - timedelta(
                    days=rng.uniform(0, HISTORY_DAYS + 60)
                )
                joined = str(created.replace(microsecond=0))
                customer_rows.append((
                    customer_id, f"C{customer_id:06d}", first, last, email, typed, e164, digits,
                    city, region, "CO", birthday, consent, int(rng.random() < 0.01), joined, stamp,
                ))  # fmt: skip
                if consent != "unknown":
                    consent_rows.append((customer_id, consent, joined, rng.choice(CONSENT_HOW)))
                for tag_id, (_tag, share) in enumerate(TAGS, start=1):
                    if rng.random() < share:
                        tag_rows.append((customer_id, tag_id))
                if rng.random() < 0.05:
                    note_rows.append((customer_id, str(created.replace(microsecond=0)), "note",
                                      rng.choice(NOTES)))  # fmt: skip
                favourites = (generator.category_of(), generator.category_of())
                for moment in generator.purchase_times(created):
                    purchase_id += 1
                    total = 0
                    for _line in range(generator.lines_count()):
                        line_id += 1
                        if rng.random() < 0.6:
                            category_index = rng.choice(favourites)
                        else:
                            category_index = generator.category_of()
                        product, price = rng.choice(generator.products[category_index])
                        quantity = generator.quantity()
                        amount = price * quantity
                        total += amount
                        line_rows.append((line_id, purchase_id, product, quantity, price, amount))
                    purchase_rows.append((purchase_id, customer_id, str(moment), total,
                                          f"V-{purchase_id:07d}"))  # fmt: skip
            connection.executemany(
                "INSERT INTO customer (id, code, first_name, last_name, email, phone, phone_e164, "
                "phone_digits, city, region, country, birthday, email_consent, archived, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                customer_rows,
            )
            connection.executemany(
                "INSERT INTO consent_event (customer_id, state, recorded_at, method, source) "
                "VALUES (?, ?, ?, ?, 'demo')",
                consent_rows,
            )
            connection.executemany(
                "INSERT INTO customer_tag (customer_id, tag_id) VALUES (?, ?)", tag_rows
            )
            connection.executemany(
                "INSERT INTO activity (customer_id, occurred_at, kind, summary) VALUES (?, ?, ?, ?)",
                note_rows,
            )
            connection.executemany(
                "INSERT INTO purchase (id, customer_id, purchased_at, total, currency, reference, source) "
                "VALUES (?, ?, ?, ?, 'COP', ?, 'demo')",
                purchase_rows,
            )
            connection.executemany(
                "INSERT INTO purchase_line (id, purchase_id, product_id, quantity, unit_price, amount) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                line_rows,
            )
            purchases, lines = purchase_id, line_id
            progress(min(customers, chunk_start + _CHUNK), customers,
                     _("Creating customers and their purchases…"))  # fmt: skip
    # Fold the large write back into the main file so the -wal does not stay big.
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return DemoResult(customers, product_id, len(CATALOGUE), purchases, lines)
