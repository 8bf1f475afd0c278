"""The starter model: what a fresh install routes with until the office trains its own.

Its examples are synthetic, generated from templates in the informal Indonesian citizens write
(abbreviations, Javanese words), by a seeded random generator: the same on every machine, and free
of anyone's personal data or any licensed data set.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import sklearn

from muara.classify.errors import ModelLoadError
from muara.classify.fitting import TRAINING_VERSION, data_fingerprint, train_model
from muara.classify.location import Level
from muara.classify.model import AgencyModel
from muara.classify.text import NORMALISER_VERSION

logger = logging.getLogger(__name__)

STARTER_AGENCIES: dict[str, str] = {
    "DPUBM": "Dinas Pekerjaan Umum Bina Marga",
    "DLH": "Dinas Lingkungan Hidup",
    "PDAM": "Perusahaan Daerah Air Minum",
    "DISHUB": "Dinas Perhubungan",
    "DISPENDUK": "Dinas Kependudukan dan Pencatatan Sipil",
    "DINSOS": "Dinas Sosial",
    "DINKES": "Dinas Kesehatan",
    "DISPENDIK": "Dinas Pendidikan",
    "SATPOLPP": "Satuan Polisi Pamong Praja",
    "DPRKPP": "Dinas Perumahan Rakyat dan Kawasan Permukiman",
    "BPBD": "Badan Penanggulangan Bencana Daerah",
    "DAMKAR": "Dinas Pemadam Kebakaran dan Penyelamatan",
    "DPMPTSP": "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
    "BAPENDA": "Badan Pendapatan Daerah",
    "DISKOMINFO": "Dinas Komunikasi dan Informatika",
    "DISNAKER": "Dinas Tenaga Kerja",
}
# The local-office role, per tier: the label names the tier and no office, so the model learns
# the role and the tier, and the office comes from the complaint's location (location.py).
STARTER_LOCAL_OFFICES = {"Kelurahan": Level.SUBDISTRICT, "Kecamatan": Level.DISTRICT}

STARTER_FILENAME = "starter.skops"
EXAMPLES_PER_AGENCY = 80
_SEED = 20241124

# Per agency: the problem itself, then what it does to people. The problem carries the signal.
_PROBLEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "DPUBM": (
        (
            "jalan rusak parah banyak lubang",
            "jalannya berlubang besar dan dalam",
            "aspal jalan mengelupas dan bergelombang",
            "jembatan penghubung antar desa retak dan hampir ambruk",
            "pagar pengaman jembatan sudah patah",
            "lubang di tengah jalan belum juga ditambal",
            "jalan ambles setelah hujan deras",
            "perbaikan jalan dibiarkan setengah jadi, material berserakan",
            "trotoar rusak dan paving lepas semua",
            "jalan makadam belum pernah diaspal",
            "jembatan kayu sudah lapuk bahaya kalau dilewati",
            "gorong-gorong di bawah jalan jebol",
            "saluran got mampet airnya meluap ke jalan kalau hujan",
            "drainase tersumbat lumpur dan tidak pernah dikeruk",
        ),
        (
            "sudah banyak pengendara motor yang jatuh",
            "kalau hujan jadi kolam dan ban mobil pecah",
            "rawan kecelakaan apalagi malam hari",
            "truk jadi susah lewat",
            "anak sekolah susah lewat",
        ),
    ),
    "DLH": (
        (
            "sampah menumpuk di TPS dan tidak diangkut",
            "tumpukan sampah di pinggir sungai bau sekali",
            "bau busuk dari pabrik tahu menyengat",
            "limbah pabrik dibuang ke sungai sampai airnya hitam",
            "asap pembakaran sampah tiap malam bikin sesak",
            "petugas kebersihan sudah seminggu tidak mengambil sampah",
            "ada pembuangan sampah liar di lahan kosong",
            "sungai penuh sampah plastik dan ikan pada mati",
            "polusi debu dan asap hitam dari cerobong pabrik",
            "bau limbah kandang ayam sampai ke pemukiman",
            "truk sampah lewat tapi sampah kami tidak diangkut",
        ),
        (
            "warga jadi banyak yang batuk",
            "lalat di mana-mana",
            "anak-anak gatal-gatal",
            "baunya sampai masuk rumah",
            "tikus berkeliaran",
        ),
    ),
    "PDAM": (
        (
            "air PDAM mati sudah tiga hari",
            "air PDAM keruh dan bau kaporit",
            "pipa PDAM bocor airnya muncrat ke jalan",
            "aliran air kecil sekali cuma netes",
            "tagihan air bulan ini naik tidak wajar padahal pemakaian biasa",
            "meteran air rusak angkanya tidak jalan",
            "air ledeng keluar warna kuning kecoklatan",
            "pasang baru sambungan air sudah bayar tapi belum dipasang",
            "air mati tiap malam tanpa pemberitahuan",
            "pipa induk PDAM pecah",
            "air kran berpasir dan berlumut",
        ),
        (
            "kami tidak bisa mandi dan masak",
            "terpaksa beli air galon",
            "cucian numpuk",
            "airnya tidak bisa diminum",
            "air terbuang percuma",
        ),
    ),
    "DISHUB": (
        (
            "lampu lalu lintas di perempatan mati",
            "lampu merah rusak nyalanya kedip kuning terus",
            "parkir liar di bahu jalan bikin macet",
            "juru parkir liar minta tarif parkir kemahalan",
            "sopir angkot ngetem sembarangan",
            "angkot ugal-ugalan dan menurunkan penumpang di tengah jalan",
            "rambu lalu lintas roboh",
            "marka jalan dan zebra cross sudah pudar",
            "truk besar melebihi tonase lewat jalan kampung",
            "halte bus rusak dan kotor",
            "bus kota tidak lewat sesuai jadwal",
            "traffic light durasi hijaunya terlalu pendek",
        ),
        (
            "macet parah tiap pagi",
            "hampir terjadi tabrakan",
            "pejalan kaki kesulitan menyeberang",
            "pengendara jadi bingung",
            "penumpang terlantar",
        ),
    ),
    "DISPENDUK": (
        (
            "KTP-el saya belum jadi padahal sudah rekam dari bulan lalu",
            "katanya blangko KTP elektronik habis",
            "mengurus KK baru prosesnya lama sekali",
            "akta kelahiran anak belum keluar",
            "data NIK saya tidak ditemukan di sistem dukcapil",
            "surat pindah domisili belum selesai",
            "antrian di kantor dukcapil panjang dan antrian online tidak bisa",
            "ada pungli saat mengurus akta kematian",
            "nama saya salah tulis di kartu keluarga minta perbaikan",
            "kartu identitas anak KIA tidak bisa diurus",
            "cetak ulang KTP yang hilang ditolak petugas capil",
        ),
        (
            "padahal mau dipakai melamar kerja",
            "sudah bolak-balik ke kantor kelurahan",
            "mau buka rekening bank jadi terhambat",
            "anak saya tidak bisa daftar sekolah",
            "mau nikah jadi tertunda",
        ),
    ),
    "DINSOS": (
        (
            "bansos tidak tepat sasaran yang mampu dapat yang miskin tidak",
            "bantuan PKH saya sudah tiga bulan tidak cair",
            "saldo kartu sembako BPNT kosong",
            "ada ODGJ terlantar berkeliaran di pasar",
            "ada lansia sebatang kara terlantar tidak ada yang merawat",
            "banyak anak jalanan dan pengemis di perempatan",
            "nama saya dicoret dari DTKS padahal masih miskin",
            "BLT dipotong oknum pendamping",
            "kartu KKS bansos tidak bisa dipakai karena saldonya nol",
            "gelandangan tidur di emperan toko",
            "penyaluran beras bantuan sosial tidak merata",
            "orang gangguan jiwa mengamuk dan dipasung keluarganya",
        ),
        (
            "keluarga kami benar-benar butuh",
            "kasihan sudah tidak makan berhari-hari",
            "meresahkan warga",
            "suami saya sudah tidak bekerja",
            "kasihan tidak ada yang mengurus",
        ),
    ),
    "DINKES": (
        (
            "pelayanan di puskesmas lama dan petugasnya judes",
            "berobat pakai BPJS ditolak",
            "obat di puskesmas sering kosong",
            "sudah ada warga kena DBD mohon fogging",
            "banyak nyamuk demam berdarah minta pengasapan",
            "posyandu tidak ada vaksin imunisasi",
            "dokter puskesmas tidak ada di tempat saat jam pelayanan",
            "ambulans puskesmas lama sekali datangnya",
            "kartu BPJS kesehatan saya tiba-tiba nonaktif",
            "banyak warga kena diare dan muntaber",
            "rumah sakit daerah menolak pasien gawat",
        ),
        (
            "anak saya demam tinggi",
            "ibu saya jadi tidak bisa berobat",
            "pasien menunggu berjam-jam",
            "sudah dua anak dirawat di rumah sakit",
            "warga takut tertular",
        ),
    ),
    "DISPENDIK": (
        (
            "PPDB zonasi tidak adil anak saya tidak diterima di sekolah terdekat",
            "sekolah minta pungutan uang gedung dan seragam",
            "atap ruang kelas SD bocor dan hampir roboh",
            "guru honorer belum digaji berbulan-bulan",
            "guru sering tidak masuk mengajar",
            "ada perundungan di sekolah tapi kepala sekolah diam saja",
            "penggunaan dana BOS tidak transparan",
            "sistem pendaftaran PPDB online error",
            "ijazah anak ditahan sekolah karena nunggak SPP",
            "buku pelajaran wajib dibeli di sekolah",
            "murid SMP disuruh bayar study tour",
        ),
        (
            "kasihan murid tidak bisa belajar dengan tenang",
            "kami orang tua keberatan",
            "anak saya jadi takut berangkat sekolah",
            "padahal katanya sekolah gratis",
            "anak saya terancam putus sekolah",
        ),
    ),
    "SATPOLPP": (
        (
            "PKL berjualan di trotoar sampai pejalan kaki turun ke jalan",
            "pedagang kaki lima menutup badan jalan",
            "reklame liar dan spanduk dipaku di pohon",
            "baliho besar tanpa izin hampir roboh",
            "tempat hiburan malam buka sampai pagi dan berisik",
            "ada warung remang-remang jual miras",
            "lapak PKL di taman kota bikin kumuh",
            "penertiban pedagang kaki lima pilih kasih",
            "anak punk nongkrong dan minta uang secara paksa",
            "bangunan liar berdiri di atas saluran tanpa IMB",
            "tempat karaoke melanggar jam operasional",
            "poster dan stiker iklan sedot wc ditempel di tiang telepon dan jembatan",
        ),
        (
            "mengganggu ketertiban umum",
            "warga resah",
            "jadi sempit dan semrawut",
            "sudah ditegur tapi tidak digubris",
            "mohon ditertibkan",
        ),
    ),
    "DPRKPP": (
        (
            "lampu PJU mati sudah sebulan",
            "lampu penerangan jalan umum di gang mati semua jadi gelap gulita",
            "tiang lampu PJU miring mau roboh",
            "rumah warga tidak layak huni mohon bantuan bedah rumah",
            "rumah tetangga saya hampir roboh dindingnya masih gedek",
            "bantuan rutilahu tidak tepat sasaran",
            "PJU nyala siang hari tapi mati kalau malam",
            "lampu taman kota mati",
            "atap rusunawa bocor dan liftnya mati",
            "fasum perumahan belum diserahkan developer",
            "kabel lampu penerangan jalan dicuri",
        ),
        (
            "jadi rawan begal dan maling",
            "warga takut keluar malam",
            "kalau hujan air masuk ke dalam rumah",
            "sudah lapor ke RT tapi belum ada tindak lanjut",
            "kasihan penghuninya",
        ),
    ),
    "BPBD": (
        (
            "banjir setinggi lutut merendam rumah warga",
            "tanah longsor menimbun jalan dan dua rumah",
            "tanggul sungai jebol air masuk ke kampung",
            "angin puting beliung merobohkan atap rumah",
            "pohon tumbang akibat angin kencang menutup jalan",
            "warga korban banjir belum dapat bantuan logistik",
            "pengungsi banjir di balai desa kekurangan selimut dan makanan",
            "rumah retak akibat gempa kemarin",
            "tebing di belakang rumah mulai longsor tiap hujan",
            "air rob pasang masuk ke rumah nelayan",
            "jalur evakuasi tidak ada rambunya",
        ),
        (
            "warga terpaksa mengungsi",
            "anak-anak dan lansia kedinginan",
            "takut ada korban jiwa",
            "perabot rumah hanyut",
            "akses ke desa terputus",
        ),
    ),
    "DAMKAR": (
        (
            "ada kebakaran rumah di gang sempit mobil pemadam susah masuk",
            "kebakaran lahan kosong asapnya tebal",
            "hidran di kampung kami tidak ada airnya waktu kebakaran",
            "sarang tawon vespa besar di atap rumah minta dievakuasi",
            "ada ular kobra masuk rumah mohon bantuan penyelamatan",
            "kucing terjebak di atas tiang tinggi tidak bisa turun",
            "cincin tersangkut di jari anak saya tidak bisa dilepas",
            "mobil pemadam kebakaran datang terlambat satu jam",
            "tabung gas bocor dan tercium bau gas di dapur",
            "pasar tradisional tidak punya alat pemadam api ringan",
            "korsleting listrik memercik api di tiang kabel",
        ),
        (
            "warga panik",
            "api cepat merambat ke rumah sebelah",
            "sangat berbahaya untuk anak-anak",
            "kami tidak berani mendekat",
            "butuh petugas segera",
        ),
    ),
    "DPMPTSP": (
        (
            "mengurus izin usaha lewat OSS tidak selesai-selesai",
            "permohonan PBG untuk bangun rumah sudah tiga bulan belum terbit",
            "izin mendirikan bangunan ruko tetangga dipertanyakan",
            "NIB saya ditolak sistem padahal data sudah benar",
            "sertifikat laik fungsi gedung belum keluar",
            "pelayanan di mal pelayanan publik lambat dan dilempar-lempar",
            "izin reklame saya diproses tanpa kepastian",
            "ada pungutan liar saat mengurus perizinan",
            "izin operasional klinik kami tertahan tanpa alasan",
            "pabrik di dekat rumah beroperasi tanpa izin lingkungan",
            "izin keramaian acara ditolak tanpa penjelasan",
            "pengajuan PBG lewat SIMBG tidak ada kabar sama sekali",
        ),
        (
            "usaha saya jadi tidak bisa jalan",
            "sudah bolak-balik ke kantor perizinan",
            "padahal persyaratan sudah lengkap",
            "kami rugi jutaan rupiah",
            "kepastian hukumnya tidak ada",
        ),
    ),
    "BAPENDA": (
        (
            "tagihan PBB rumah saya naik dua kali lipat",
            "SPPT PBB tahun ini belum dibagikan",
            "sudah bayar PBB tapi di sistem masih tercatat menunggak",
            "nama di SPPT PBB masih atas nama pemilik lama",
            "BPHTB waktu balik nama sertifikat terlalu mahal",
            "pajak restoran dibebankan ke pembeli tapi tidak disetor",
            "denda pajak bumi dan bangunan tidak wajar",
            "mengajukan keringanan PBB untuk lansia tidak ada jawaban",
            "aplikasi pembayaran pajak daerah error terus",
            "luas tanah di SPPT tidak sesuai dengan sertifikat",
            "pajak reklame usaha kecil saya terlalu besar",
        ),
        (
            "kami pensiunan tidak sanggup bayar",
            "mau jual rumah jadi terhambat",
            "minta penjelasan rinciannya",
            "mohon dikoreksi datanya",
            "takut kena denda terus",
        ),
    ),
    "DISKOMINFO": (
        (
            "website resmi pemkab tidak bisa dibuka",
            "aplikasi layanan pengaduan error tidak bisa login",
            "wifi gratis di taman kota mati sudah sebulan",
            "sinyal internet di balai desa tidak ada",
            "tower BTS dibangun dekat rumah tanpa sosialisasi",
            "informasi di website dinas sudah kedaluwarsa",
            "akun media sosial pemkab tidak pernah membalas pertanyaan",
            "ada hoaks beredar mengatasnamakan pemerintah daerah",
            "videotron di alun-alun menampilkan iklan tidak pantas",
            "kabel fiber optik menjuntai rendah di jalan kampung",
            "data pribadi saya bocor dari aplikasi layanan publik",
        ),
        (
            "warga jadi kesulitan mencari informasi",
            "anak-anak tidak bisa belajar daring",
            "mohon segera diperbaiki sistemnya",
            "meresahkan masyarakat",
            "pelayanan online jadi lumpuh",
        ),
    ),
    "DISNAKER": (
        (
            "pabrik tempat saya bekerja membayar gaji di bawah UMK",
            "THR karyawan tidak dibayar perusahaan",
            "saya di-PHK sepihak tanpa pesangon",
            "perusahaan tidak mendaftarkan pekerja ke BPJS ketenagakerjaan",
            "mengurus kartu kuning AK1 untuk melamar kerja dipersulit",
            "lembur dipaksa tapi tidak dibayar",
            "kontrak kerja diperpanjang terus tanpa diangkat karyawan tetap",
            "pelatihan kerja di BLK katanya gratis tapi dipungut biaya",
            "ada tenaga kerja asing bekerja tanpa izin di proyek",
            "buruh dipekerjakan tanpa alat pelindung diri",
            "gaji bulan lalu belum dibayar perusahaan sampai sekarang",
        ),
        (
            "keluarga saya butuh makan",
            "kami takut melapor ke atasan",
            "sudah lapor ke HRD tapi diabaikan",
            "banyak teman kerja mengalami hal sama",
            "mohon perusahaan ditindak",
        ),
    ),
    "Kelurahan": (
        (
            "minta surat pengantar di kantor kelurahan dipersulit",
            "ketua RT tidak mau tanda tangan surat keterangan domisili",
            "lurah jarang ada di kantor kelurahan",
            "mengurus surat keterangan ahli waris di kelurahan lama sekali",
            "iuran RT dinaikkan sepihak tanpa musyawarah warga",
            "pengurus RW memakai uang kas warga tidak transparan",
            "tetangga bikin gaduh dan menutup gang untuk hajatan",
            "usulan musrenbang kelurahan kami tidak pernah ditindaklanjuti",
            "petugas kelurahan minta uang untuk surat pengantar nikah",
            "pos kamling kampung tidak pernah dijaga",
            "balai RW dipakai untuk kepentingan pribadi",
            "warga pendatang tidak lapor ke ketua RT",
        ),
        (
            "warga jadi resah",
            "sudah disampaikan ke pengurus RT",
            "mohon lurah turun tangan",
            "kami jadi tidak nyaman",
            "tolong dimediasi",
        ),
    ),
    "Kecamatan": (
        (
            "pelayanan PATEN di kantor kecamatan lambat",
            "camat tidak menindaklanjuti laporan warga",
            "petugas loket kecamatan tidak ramah",
            "antrean legalisir di kantor kecamatan panjang sekali",
            "ada warga main petasan dan mercon tiap malam di lapangan",
            "rekomendasi izin keramaian dari kecamatan tidak keluar",
            "program padat karya kecamatan pesertanya itu-itu saja",
            "pembagian tugas antar kelurahan di kecamatan kami tidak jelas",
            "kantor kecamatan tutup saat jam pelayanan",
            "kegiatan di kecamatan menutup jalan tanpa pemberitahuan",
            "laporan ke kelurahan tidak ditanggapi mohon camat turun",
        ),
        (
            "warga sekecamatan mengeluhkan hal sama",
            "mohon pak camat menegur",
            "kami sudah menunggu seharian",
            "mengganggu istirahat warga",
            "mohon ditertibkan",
        ),
    ),
}

_OPENERS = (
    "selamat pagi bapak/ibu,",
    "selamat siang min,",
    "assalamualaikum,",
    "lapor min,",
    "permisi mau lapor,",
    "mohon maaf mengganggu,",
    "min tolong,",
    "nuwun sewu,",
    "halo admin,",
    "mas admin,",
    "kepada yth dinas terkait,",
)
_PLACES = (
    "di jalan melati",
    "di depan pasar baru",
    "di RT 03 RW 05 kelurahan sukamaju",
    "di gang mawar 2",
    "dekat masjid al ikhlas",
    "di perumahan griya asri blok C",
    "di desa sumbersari kecamatan kota",
    "di depan SDN 2",
    "di kampung kami",
    "sebelah kantor kelurahan",
    "di jl. ahmad yani",
    "di dusun krajan",
    "di belakang terminal",
    "di lingkungan kami",
)
_SINCE = (
    "sudah 2 minggu",
    "dari kemarin",
    "sejak bulan lalu",
    "sudah lama sekali",
    "sudah berbulan-bulan",
    "sejak lebaran",
    "tiga hari ini",
)
_CLOSERS = (
    "mohon segera ditindaklanjuti.",
    "terima kasih.",
    "tolong dong pak.",
    "mohon perhatiannya.",
    "matur nuwun.",
    "mohon bantuannya bapak/ibu.",
    "kami tunggu responnya.",
    "jangan cuma janji ya.",
    "sudah lapor berkali-kali tapi tidak ada tanggapan.",
    "mohon dicek mas.",
)
# How citizens shorten or swap words; each occurrence is kept or swapped at random.
_INFORMAL: dict[str, tuple[str, ...]] = {
    "yang": ("yg",),
    "tidak": ("tdk", "gak", "ndak", "nggak"),
    "jalan": ("jln", "jl"),
    "sudah": ("sdh", "udah", "wis"),
    "dengan": ("dgn",),
    "tolong": ("tlg",),
    "segera": ("sgr",),
    "bapak": ("bpk",),
    "sampai": ("sampe",),
    "banyak": ("byk",),
    "untuk": ("utk",),
    "saya": ("sy", "aku"),
    "terima kasih": ("makasih", "trims", "tks"),
    "belum": ("blm", "durung"),
    "sekali": ("banget", "bgt", "pol"),
    "padahal": ("pdhl",),
    "tapi": ("tp",),
    "kami": ("kmi",),
    "mohon": ("mhn",),
}
_INFORMAL_RE = re.compile(r"\b(" + "|".join(map(re.escape, _INFORMAL)) + r")\b")


def _informal(text: str, rng: random.Random) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(1)
        return rng.choice((word, *_INFORMAL[word])) if rng.random() < 0.6 else word

    return _INFORMAL_RE.sub(swap, text)


def _complaint(agency: str, rng: random.Random) -> tuple[str, int]:
    problems, effects = _PROBLEMS[agency]
    which = rng.randrange(len(problems))
    problem = problems[which]
    place = rng.choice(_PLACES) if rng.random() < 0.7 else ""
    core = f"{place} {problem}" if place and rng.random() < 0.3 else f"{problem} {place}"
    parts = [
        rng.choice(_OPENERS) if rng.random() < 0.6 else "",
        core,
        rng.choice(_SINCE) if rng.random() < 0.5 else "",
        rng.choice(effects) + "," if rng.random() < 0.6 else "",
        rng.choice(_CLOSERS) if rng.random() < 0.7 else "",
    ]
    text = _informal(" ".join(part for part in parts if part), rng)
    if rng.random() < 0.15:
        text = text.upper()
    if rng.random() < 0.2:
        text = text.rstrip(".,") + rng.choice(("!!!", "??", " !!", " 🙏"))
    return " ".join(text.split()), which


def _starter_rows() -> list[tuple[str, str, str]]:
    """(text, label, the problem it was made from): a problem's variants are one group."""
    rng = random.Random(_SEED)
    rows: list[tuple[str, str, str]] = []
    for agency in (*STARTER_AGENCIES, *STARTER_LOCAL_OFFICES):
        seen: set[str] = set()
        for _ in range(EXAMPLES_PER_AGENCY * 20):
            if len(seen) == EXAMPLES_PER_AGENCY:
                break
            text, problem = _complaint(agency, rng)
            if text not in seen:
                seen.add(text)
                rows.append((text, agency, f"{agency}:{problem}"))
    return rows


def starter_examples() -> list[tuple[str, str]]:
    """The (text, label) pairs the starter model learns from; identical on every call.

    Labels are agency codes, or "Kelurahan"/"Kecamatan" for the local-office role.
    """
    return [(text, label) for text, label, _ in _starter_rows()]


def _starter_is_current(path: Path, fingerprint: str) -> bool:
    if not path.exists():
        return False
    try:
        metadata = AgencyModel.load(path).metadata
    except ModelLoadError as err:
        logger.warning("starter model unusable, retraining it: %s", err.reason)
        return False
    return (
        metadata.get("data_sha256") == fingerprint
        and metadata.get("normaliser_version") == NORMALISER_VERSION
        and metadata.get("training_version") == TRAINING_VERSION
        and metadata.get("sklearn_version") == sklearn.__version__
    )


def ensure_starter_model(models_dir: Path) -> Path:
    """The saved starter model's path, trained now if it is missing, damaged or out of date."""
    path = models_dir / STARTER_FILENAME
    rows = _starter_rows()
    texts = [text for text, _, _ in rows]
    labels = [label for _, label, _ in rows]
    fingerprint = data_fingerprint(texts, labels)
    if _starter_is_current(path, fingerprint):
        return path
    logger.info("training the starter model on %d synthetic examples", len(texts))
    # Same data, same normaliser: same version on every machine, so metrics compare across sites.
    version = f"starter-{fingerprint[:6]}-n{NORMALISER_VERSION}-t{TRAINING_VERSION}"
    # Confidence is calibrated on variants of problems held out whole (a proxy for phrasings
    # the templates never made), but no per-agency thresholds: synthetic precision says nothing
    # about a region's complaints, so the router's global threshold applies until it trains.
    model = train_model(
        texts,
        labels,
        version=version,
        source="starter",
        groups=[group for _, _, group in rows],
        per_agency_thresholds=False,
    )
    # Saving is atomic, so replicas starting together may both train; the last write wins.
    model.save(path)
    return path
