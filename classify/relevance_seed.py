"""The relevance seed set: X posts in Indonesian, written for this project, and what each one is.

What the bundled relevance model learns from until a region labels its own posts (`muara
train-relevance --csv`). Like the starter model's examples, the posts are composed from fragments
by a seeded random generator: the same on every machine, free of anyone's personal data and of any
licensed data set. Each post carries the fragment it was made from as its group, so the held-out
evaluation judges fragments the model never saw, not re-wordings of ones it did.

The hard cases are written in on purpose: praise followed by a problem ("makasih, tapi got masih
mampet"), sarcasm ("mantap, jalan rusak 2 tahun 👍"), negated praise ("kurang bersih"), complaints
about gambling and loan sharks (which name them, as spam does), and questions that ask about a
problem (a complaint) beside questions that ask for information (chatter).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from muara.classify.starter import _PROBLEMS

COMPLAINT = "complaint"
PRAISE = "praise"
CHATTER = "chatter"
SPAM = "spam"
PROMO = "promo"
RELEVANCE_LABELS = (COMPLAINT, PRAISE, CHATTER, SPAM, PROMO)

_SEED = 20261124
# Posts made from each fragment; enough variety of wrapping without drowning the fragments.
_VARIANTS = 3


@dataclass(frozen=True, slots=True)
class SeedPost:
    """One labelled post and the fragment it was made from (its group in held-out folds)."""

    text: str
    label: str
    group: str


_ACCOUNTS = (
    "@PemkotContoh",
    "@humaskota",
    "@dinaskota",
    "@BupatiKita",
    "@WaliKotaKita",
    "@lapor_kota",
    "@kominfokota",
    "@mediacenterkota",
)
_HASHTAGS = ("#LaporGub", "#LaporWali", "#KotaKita", "#SuaraWarga", "#InfoKota", "")
_EMOJI_ANGRY = ("😡", "😤", "🙄", "😭", "😩", "!!!", "??", "")
_EMOJI_HAPPY = ("🙏", "👍", "👏", "❤️", "😍", "🥰", "💯", "")

# Complaints written as posts, beyond the starter's agency problems: short, angry, tagged.
_TWEET_COMPLAINTS = (
    "lampu jalan di gang kami mati dua minggu belum ada yang benerin",
    "got depan rumah mampet, kalau hujan air masuk rumah",
    "banjir lagi di perumahan kami, airnya sampai lutut",
    "air PDAM gak ngalir dari semalam, warga mau mandi gimana",
    "sampah di TPS pasar udah 4 hari gak diangkut, baunya kemana-mana",
    "jalan berlubang depan SD makan korban lagi, motor jatuh",
    "kenapa KTP-el saya belum jadi padahal sudah 3 bulan",
    "pelayanan di kelurahan kurang ramah dan antreannya panjang banget",
    "taman kota kurang bersih, banyak sampah plastik berserakan",
    "ada pungli parkir di depan rumah sakit, 10rb sekali parkir",
    "PJU padam di jembatan, gelap gulita rawan begal",
    "tolong berantas judi online di kampung kami, anak muda pada kecanduan",
    "warung di ujung gang jadi tempat judi sabung ayam tiap malam, tolong ditertibkan",
    "tetangga kena pinjol ilegal, diteror debt collector tiap hari, tolong diusut",
    "banyak penipuan berkedok promo bansos lewat wa, warga lansia jadi korban",
    "lampu lalu lintas di perempatan mati, macet parah dan hampir tabrakan",
    "parkir liar makan separuh jalan tiap sore, macet total",
    "PKL jualan di trotoar, pejalan kaki terpaksa jalan di aspal",
    "pohon tumbang menutup jalan sejak pagi belum dievakuasi",
    "anak saya tidak dapat sekolah negeri padahal rumah dekat, zonasi aneh",
    "puskesmas tutup jam 11 padahal jadwalnya sampai jam 2",
    "bansos PKH ibu saya tidak cair lagi tanpa penjelasan",
    "bising knalpot brong tiap malam di jalan raya, tidak bisa tidur",
    "bus kota mogok di tengah jalan dan penumpang disuruh turun",
    "sudah lapor lewat aplikasi seminggu lalu tapi statusnya masih menunggu",
    "petugas kecamatan minta uang buat tanda tangan surat pindah",
    "pasar becek dan drainasenya jebol, pembeli pada malas datang",
    "trotoar baru dibangun sudah retak dan ambles",
    "kabel listrik menjuntai rendah di gang, bahaya buat anak-anak",
    "sudah tiga tiang lampu yang mati di jalan kami",
    "air sungai hitam dan bau, ikan pada mati, pasti limbah pabrik",
    "antrean dukcapil dari subuh tapi kuota online selalu habis",
    "bau sampah dari TPS sampai ke sekolah, murid-murid pada mual",
    "kenapa pengaduan saya ditutup padahal masalahnya belum selesai",
    "mobil damkar susah masuk karena portal gang digembok",
    "genangan air di underpass tiap hujan, motor mogok semua",
    "pembangunan saluran dibiarkan terbuka, sudah ada yang terperosok",
    "jembatan penyeberangan licin dan atapnya bocor",
    "warga belum dapat air bersih sejak pipa diganti minggu lalu",
    "rumah tidak layak huni tetangga hampir roboh, belum juga dibantu",
)
# Praise first, then the problem: the problem decides.
_BUT = ("tapi", "tp", "namun", "cuma", "sayangnya")
# Sarcasm: praise words around a problem still report the problem.
_SARCASM = (
    "mantap, {problem}, hebat sekali pemkot 👍",
    "keren banget kotaku, {problem} 👏👏",
    "terima kasih lho, {problem}, luar biasa pelayanannya",
    "prestasi: {problem}. selamat 🎉",
)
# Negated praise: a complaint in polite words.
_NEGATED = (
    "pelayanan di {place} kurang ramah",
    "kebersihan {place} kurang terjaga",
    "petugas di {place} tidak profesional, kerja asal-asalan",
    "fasilitas {place} tidak layak, toiletnya jorok",
    "{place} tidak bersih sama sekali, banyak sampah",
    "jadwal di {place} tidak jelas, warga bingung",
)
_PLACES = (
    "kelurahan",
    "kantor kecamatan",
    "puskesmas",
    "dukcapil",
    "taman kota",
    "terminal",
    "pasar baru",
    "rumah sakit daerah",
    "alun-alun",
    "stasiun",
)

_FIXED_THINGS = (
    ("jalan depan rumah", ("sudah mulus sekarang", "sudah diaspal ulang", "sudah ditambal")),
    ("lampu jalan di gang kami", ("sudah nyala lagi", "sudah diganti baru", "sudah terang")),
    ("sampah di TPS", ("sudah diangkut pagi ini", "sudah bersih", "sudah tidak menumpuk lagi")),
    ("got yang mampet", ("sudah dikeruk", "sudah lancar lagi", "sudah dibersihkan petugas")),
    ("air PDAM", ("sudah ngalir lagi", "sudah jernih", "sudah normal lagi")),
    ("KTP-el saya", ("sudah jadi cuma sehari", "jadi tepat waktu", "sudah bisa diambil")),
    ("taman kota", ("sekarang bersih dan rapi", "jadi asri", "makin cantik")),
    ("pohon tumbang tadi pagi", ("sudah dievakuasi cepat", "sudah dipotong petugas")),
    ("lampu lalu lintas perempatan", ("sudah diperbaiki", "sudah normal, gak macet lagi")),
    ("banjir di perumahan kami", ("sudah surut berkat pompa", "sudah tidak ada lagi tahun ini")),
    ("pelayanan dukcapil", ("cepat tanggap", "ramah dan cepat", "tidak mengecewakan")),
    ("petugas damkar", ("gercep sekali", "datang 10 menit setelah ditelepon")),
    ("bus kota", ("sekarang tepat waktu", "bersih dan adem")),
    ("puskesmas", ("pelayanannya ramah", "antreannya sekarang cepat")),
)
_PRAISE_FORMS = (
    "terima kasih {account}, {thing} {fixed} {happy}",
    "makasih min, {thing} {fixed} {happy}",
    "mantap, {thing} {fixed} {happy}",
    "salut buat petugasnya, {thing} {fixed}",
    "alhamdulillah {thing} {fixed}, matur nuwun {account} {happy}",
    "keren {account}! {thing} {fixed}",
    "{thing} {fixed}. terima kasih bapak ibu petugas {happy}",
    "apresiasi untuk {account}, {thing} {fixed} {happy}",
)
_PRAISE_PLAIN = (
    "pelayanannya tidak mengecewakan, makasih min",
    "gak nyangka secepat ini ditanggapi, terima kasih banyak",
    "sukses terus {account} 👏👏👏",
    "bangga jadi warga kota ini {happy}",
    "terima kasih sudah merespon laporan saya dengan cepat",
    "respon admin cepat sekali, the best",
    "selamat atas penghargaan kota terbersih, semoga dipertahankan",
    "semangat terus bapak ibu petugas kebersihan {happy}",
    "program vaksinasi di balai RW kemarin rapi dan lancar, terima kasih",
    "laporan saya langsung ditindaklanjuti, luar biasa",
    "top markotop pelayanan mal pelayanan publik {happy}",
    "makasih pak camat sudah turun langsung ke kampung kami",
    "terima kasih {account} {happy}",
    "makasih min {happy}",
    "matur nuwun {account}",
    "thx min, sudah beres",
    "laporan sudah ditangani dengan baik, terima kasih",
    "keren pelayanannya, cepat dan tidak ribet",
    "salut sama petugas kebersihan yang kerja dari subuh",
    "puas dengan pelayanan samsat keliling, cepat",
    "suka banget sama taman baru di kampung kami, rapi",
    "pelayanan di puskesmas sekarang jauh lebih baik, terima kasih",
    "gak macet lagi sejak ada petugas di perempatan, mantap",
    "jalan sudah tidak banjir lagi sejak salurannya diperbaiki, matur nuwun",
    "bagus sekali program sekolah gratisnya, sangat membantu",
    "mantap, sekarang urus akta kelahiran bisa online dan cepat",
    "trims atas respon cepatnya min 👍",
    "luar biasa kerja petugas damkar semalam",
)

_CHATTER = (
    "selamat pagi min {account}",
    "{account} {account} hadir",
    "kantor dukcapil buka jam berapa ya hari sabtu?",
    "min, syarat bikin KK baru apa aja ya?",
    "info dong jadwal car free day minggu ini",
    "besok libur nasional ya min?",
    "ada yang tau nomor call center kelurahan?",
    "kapan pendaftaran sekolah negeri dibuka min?",
    "wah hujan deras banget sore ini, tetap semangat warga",
    "nonton bola bareng di balai RW nanti malam, siapa ikut",
    "selamat hari jadi kota kita yang ke-729 {happy}",
    "pagi-pagi sudah macet aja, tetap sabar ya gaes",
    "ikut nyimak {account}",
    "wkwkwk bener banget min",
    "semoga besok cerah, mau jalan pagi ke taman",
    "barusan lihat pak wali di pasar, ramah orangnya",
    "ini foto alun-alun tadi malam, ramai sekali",
    "min, lowongan kerja di pemkot ada info?",
    "apakah pameran UMKM minggu depan gratis masuknya?",
    "ada yang mau ikut lomba 17an di kampung kami?",
    "jam operasional puskesmas hari minggu sampai jam berapa ya",
    "mau tanya cara daftar BPJS mandiri gimana ya",
    "cuaca hari ini panas pol",
    "lagi antre beli bakso, ramai banget",
    "retweet ya biar semua tahu jadwal vaksin",
    "follow balik dong min {happy}",
    "siapa yang nonton konser di stadion kemarin?",
    "#InfoKota jadwal pemadaman bergilir ada di web PLN ya",
    "selamat menunaikan ibadah puasa bagi yang menjalankan",
    "mantap min, lanjutkan",
    "#LaporGub",
    "#InfoKota #KotaKita",
    "{account}",
    "{account} {account}",
    "https://t.co/a1b2c3",
    "👀",
    "🙏🙏",
    "hmm",
    "oke min siap",
    "siap laksanakan",
    "nitip pantau ya min",
    "min ada info event akhir pekan?",
    "dimana tempat makan enak dekat alun-alun?",
    "selamat malam warga, jangan lupa istirahat",
    "rute bus kota ke terminal lewat mana ya?",
    "kapan jadwal pengambilan KTP keliling di kecamatan kami?",
    "cara bayar PBB online gimana min?",
    "apakah kantor kelurahan buka saat cuti bersama?",
    "semoga kota kita makin maju",
    "ramai banget pawai budaya tadi siang",
    "sharing foto sunset di jembatan tadi sore",
    "ada yang kehilangan kucing oren di sekitar masjid? ketemu di sini",
    "ikut meramaikan lomba foto HUT kota",
    "min mau tanya, lomba kampung bersih tahun ini kapan?",
    "barusan gempa kecil ya? terasa sedikit di sini",
    "hari ini car free day dibatalkan atau tetap jalan?",
    "pemenang lomba masak nasi goreng kemarin siapa ya",
    "met ultah pak wali, sehat selalu",
    "jangan lupa pakai masker di keramaian",
)

_SPAM = (
    "SLOT GACOR hari ini maxwin!!! cek bio",
    "bonus new member 100% depo 25rb langsung jp",
    "link alternatif slot gacor anti rungkad, klik link di bio",
    "prediksi togel hari ini jitu 4D, join grup sekarang",
    "rtp slot live tertinggi hari ini, scatter hitam pasti turun",
    "situs judi online terpercaya, wd berapapun dibayar",
    "jual followers aktif murah, 1000 followers cuma 20rb",
    "giveaway followers gratis, mention 3 teman",
    "pinjaman cepat tanpa jaminan cair 5 menit, dm for info",
    "airdrop crypto gratis, claim sekarang sebelum habis",
    "cuan jutaan per hari dari rumah, cek bio",
    "jasa naikin followers dan likes instan, wa me",
    "zeus gacor x500 barusan, daftar lewat link bio",
    "depo pulsa tanpa potongan, rtp 98%, gas sekarang",
    "butuh dana cepat? pinjol legal bunga rendah, klik link",
    "investasi bodong? bukan! profit 30% sebulan, join telegram",
    "mahjong ways 2 lagi gacor, modal receh jadi jutaan",
    "daftar sekarang dapat freebet 50rb tanpa deposit",
    "akun premium netflix murah meriah, garansi full",
    "joki tugas kuliah dan skripsi, dijamin lulus",
    "bandar togel resmi, bayar lunas berapapun jp nya",
    "klik link untuk klaim saldo dana gratis 500rb",
    "follow akun ini dan dapat hadiah iphone gratis",
    "gas main sekarang selagi rtp tinggi, link di bio",
)
_SPAM_TAILS = ("https://bit.ly/gacor88", "https://s.id/maxwin", "wa.me/620000000000", "", "")

_PROMO = (
    "promo diskon 50% semua menu hari ini, follow dan cek bio ya kak",
    "open order kue kering lebaran, pengiriman seluruh kota",
    "ready stock jilbab motif terbaru, harga grosir",
    "dijual rumah 2 lantai dekat kampus, harga nego, dm",
    "open PO kaos komunitas, terbatas 100 pcs",
    "sewa mobil lepas kunci murah, bisa harian",
    "jasa sedot WC 24 jam, harga bersahabat",
    "kursus bahasa inggris online, diskon pendaftaran bulan ini",
    "catering nasi kotak untuk acara kantor, minimal 20 box",
    "grand opening kedai kopi kami besok, beli 1 gratis 1",
    "endorse produk skincare, dm untuk ratecard",
    "jual tanah kavling siap bangun, sertifikat SHM",
    "flash sale sepatu lokal jam 12 siang ini",
    "les privat matematika SD SMP datang ke rumah",
    "paket umroh promo akhir tahun, cicilan ringan",
    "diskon servis AC 30% khusus minggu ini",
    "menerima pesanan tumpeng untuk syukuran, order H-2",
    "kosan putri dekat kampus masih ada 2 kamar kosong",
    "jual motor bekas surat lengkap pajak hidup",
    "bazar buku murah akhir pekan ini di gedung serbaguna, diskon sampai 70%",
    "terima jasa renovasi rumah dan pasang kanopi, survei gratis",
    "thrifting baju branded mulai 20rb, cod area kota",
    "promo cuci mobil gratis kopi selama bulan ini",
    "buka cabang baru laundry kiloan, antar jemput gratis",
)
_PROMO_TAILS = ("cek bio", "info lengkap di link bio", "https://linktr.ee/tokokita", "", "")


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def _tweet(core: str, rng: random.Random, mood: tuple[str, ...]) -> str:
    """Wrap a sentence as a post: an account tagged before or after, a hashtag, an emoji."""
    account = _pick(rng, _ACCOUNTS)
    text = f"{account} {core}" if rng.random() < 0.5 else f"{core} {account}"
    if rng.random() < 0.4:
        text = f"{text} {_pick(rng, _HASHTAGS)}"
    if rng.random() < 0.5:
        text = f"{text} {_pick(rng, mood)}"
    if rng.random() < 0.1:
        text = text.upper()
    if rng.random() < 0.15:
        text = f"{text} https://t.co/{rng.getrandbits(40):x}"
    return " ".join(text.split())


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        account=_pick(rng, _ACCOUNTS),
        happy=_pick(rng, _EMOJI_HAPPY),
        place=_pick(rng, _PLACES),
    )


def _problems() -> list[tuple[str, str]]:
    """(problem sentence, group): the starter's agency problems and the post-style ones."""
    found = [
        (problem, f"starter:{agency}:{i}")
        for agency, (problems, _) in _PROBLEMS.items()
        for i, problem in enumerate(problems)
    ]
    found += [(text, f"tweet:{i}") for i, text in enumerate(_TWEET_COMPLAINTS)]
    return found


def seed_posts() -> list[SeedPost]:
    """Every post of the seed set, in a fixed order; identical on every call and machine."""
    rng = random.Random(_SEED)
    posts: list[SeedPost] = []
    seen: set[str] = set()

    def add(text: str, label: str, group: str) -> None:
        if text not in seen:
            seen.add(text)
            posts.append(SeedPost(text, label, group))

    problems = _problems()
    for problem, group in problems:
        for _ in range(2):
            add(_tweet(problem, rng, _EMOJI_ANGRY), COMPLAINT, group)
    for i, (thing, fixes) in enumerate(_FIXED_THINGS):
        for j, fixed in enumerate(fixes):
            for _ in range(_VARIANTS):
                form = _pick(rng, _PRAISE_FORMS)
                text = form.format(
                    account=_pick(rng, _ACCOUNTS),
                    thing=thing,
                    fixed=fixed,
                    happy=_pick(rng, _EMOJI_HAPPY),
                )
                add(" ".join(text.split()), PRAISE, f"praise:{i}:{j}")
                # The same thanks, then a problem that remains: a complaint.
                problem, group = problems[rng.randrange(len(problems))]
                add(f"{' '.join(text.split())} {_pick(rng, _BUT)} {problem}", COMPLAINT, group)
    for i, template in enumerate(_PRAISE_PLAIN):
        for _ in range(_VARIANTS):
            add(_tweet(_fill(template, rng), rng, _EMOJI_HAPPY), PRAISE, f"praise-plain:{i}")
    for i, template in enumerate(_SARCASM):
        for _ in range(_VARIANTS * 2):
            problem, _group = problems[rng.randrange(len(problems))]
            add(
                _tweet(template.format(problem=problem), rng, _EMOJI_ANGRY),
                COMPLAINT,
                f"sarcasm:{i}",
            )
    for i, template in enumerate(_NEGATED):
        for _ in range(_VARIANTS):
            add(_tweet(_fill(template, rng), rng, _EMOJI_ANGRY), COMPLAINT, f"negated:{i}")
    for i, template in enumerate(_CHATTER):
        for _ in range(_VARIANTS):
            add(_tweet(_fill(template, rng), rng, _EMOJI_HAPPY), CHATTER, f"chatter:{i}")
    for label, texts, tails in ((SPAM, _SPAM, _SPAM_TAILS), (PROMO, _PROMO, _PROMO_TAILS)):
        for i, core in enumerate(texts):
            for _ in range(_VARIANTS):
                text = _tweet(f"{core} {_pick(rng, tails)}", rng, _EMOJI_HAPPY)
                add(text, label, f"{label}:{i}")
    return posts
