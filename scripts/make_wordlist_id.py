#!/usr/bin/env python3
"""Derive the Indonesian codename word list ``keys/wordlists/id.txt``.

Reporters are given a random codename made of words from this list (like
SecureDrop codenames).  4096 words give 12 bits per word, so an 8-word codename
carries 96 bits (at least 85 are required).  A frightened reporter has to
memorise those 8 words and may have to read them aloud, so every word must be a
common, easy, everyday Indonesian word that is harmless to say.

This is a one-off developer tool, *not* a runtime dependency: the committed
``keys/wordlists/id.txt`` is what the application reads.  Re-run it only to
change the list, and review the diff by eye.

How to run (PyPI is the only network access needed)::

    python3 -m venv /tmp/wlvenv
    /tmp/wlvenv/bin/pip install "wordfreq==3.1.1"
    /tmp/wlvenv/bin/python scripts/make_wordlist_id.py           # writes the file
    /tmp/wlvenv/bin/python scripts/make_wordlist_id.py --check   # compare only

The output is deterministic for a given wordfreq version: candidates are taken
from ``wordfreq.top_n_list("id", ...)`` in frequency order, every filter below is
a pure function of the word and its wordfreq frequencies, the first 4096 words
that pass are kept and the result is sorted.  The script refuses to run with a
wordfreq version other than the pinned one unless ``--any-wordfreq`` is given,
because another version ranks words differently and changes the list.

Filters, in the order ``reject_reason`` applies them, and why each exists:

``shape``
    Only ASCII ``a-z``, 3 to 8 letters.  Codenames are typed on any keyboard
    and read aloud; no digits, hyphens (``kupu-kupu``), apostrophes
    (``jum'at``) or diacritics.  Short and long words are both hard to
    remember or easy to mishear.
``blocklist``
    Hand-made lists below (``BLOCKLIST``), from reading every candidate: slang,
    non-standard spellings, personal names, brands, acronyms, places,
    religion, identity and insults, sexual words, violence/death/illness/fear,
    crime and law, and anything that sounds like a report, government,
    politics or money.  A codename must not frighten, offend, or look like an
    accusation or like the subject of a report.
``suffix-nya``
    Words ending in ``-nya`` (``rumahnya`` "his house") are near-duplicates of
    their stem.  This also drops ``punya``/``hanya``/``tanya``: a simple rule
    is easier to audit than exceptions.
``particle``
    A known word plus the particles ``-lah``, ``-kah``, ``-pun``, ``-tah``
    (``bisalah``, ``apakah``) is a near-duplicate.  Only when the rest has 3+
    letters and is itself in the Indonesian frequency list, so ``sekolah``,
    ``kalah`` and ``ulah`` stay.
``possessive``
    A known word (3+ letters) plus the clitics ``-ku``/``-mu`` (``ibuku``
    "my mother") is a near-duplicate; ``buku``/``ilmu`` stay because their
    remainder is too short.
``no-vowel``
    Acronyms and chat abbreviations (``dpr``, ``yg``, ``sdh``).
``spelling``
    Letter patterns that native Indonesian spelling does not use: ``q``/``x``,
    ``th ph sh ch ck wh gh dh``, the old Dutch-era ``dj tj oe``, ``oo ee ou``,
    a ``y`` after a consonant other than ``n``/``s``/``r`` or before a
    consonant, a final ``c j v w x y z`` or a final ``g`` not in ``ng``, a
    doubled consonant other than ``ngg``, or a letter tripled.  These catch
    English words, Korean/Chinese romanisations, brand names and onomatopoeia
    (``hmmm``, ``yeah``, ``hyun``, ``allah``) that the frequency filter misses.
``english``
    Drop the word unless its Zipf frequency in Indonesian is more than
    ``ENGLISH_MARGIN`` above its Zipf frequency in English.  Indonesian web
    and subtitle text is full of English words (``game``, ``online``),
    international names (``kevin``, ``alex``) and brands (``google``); all of
    them are at least about as frequent in English.  The margin also drops a
    few words that are genuinely Indonesian but identical to common English
    ones (``air``, ``data``, ``bank``), which would confuse a reader.

The blocklist was built by reading, in frequency order, the first 6500 words
that pass the other filters (about 2000 more than end up in the list, so that
blocking a word pulls in an already-reviewed replacement), then reading the
final sorted list in full.  The Debian ``hunspell-id`` dictionary was used
during that review to flag words that are not standard Indonesian
(``hunspell -d id_ID -l < keys/wordlists/id.txt``); it is not needed to run
this script.  To change the list: add words to a category below, re-run, and
read the words the diff adds at the end of the frequency range.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Set
from pathlib import Path

TARGET_SIZE = 4096
MIN_LEN = 3
MAX_LEN = 8
# Keep a word only if zipf(id) - zipf(en) > ENGLISH_MARGIN.
ENGLISH_MARGIN = 1.0
# Larger than wordfreq's whole Indonesian list, so every word is a candidate.
POOL_SIZE = 100_000
WORDFREQ_VERSION = "3.1.1"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "keys" / "wordlists" / "id.txt"

_SHAPE_RE = re.compile(rf"[a-z]{{{MIN_LEN},{MAX_LEN}}}")
_VOWELS = frozenset("aeiou")
_FOREIGN_RE = re.compile(
    r"[qx]|th|ph|sh|ch|ck|wh|gh|dh|dj|tj|oe|oo|ee|ou"
    r"|[bcdfghjklmptvwz]y|y(?![aeiou])"
    r"|(?:[cjvwxyz]|(?<!n)g)$"
    r"|([a-z])\1\1"
)
_DOUBLE_RE = re.compile(r"([bcdfghjklmnpqrstvwxz])\1")
_PARTICLES = ("lah", "kah", "pun", "tah")
_CLITICS = ("ku", "mu")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Each category was filled by reading the candidates; the comment says what
# belongs there.  A word appears in one category only.
BLOCKLIST_CATEGORIES: dict[str, frozenset[str]] = {
    # Whistleblowing itself, reporting, journalism, leaks; government,
    # officials, politics, parties, elections; money, bribes, budgets.
    "report": _words(
        """
        aduan advokasi agen aktivis akuntan alokasi amplop anggaran aparatur apbd asasi
        atasan awasi bawahan bayaran berkas bertaruh biang bocoran bupati camat celah
        dana dandim demokrat deputi desakan dewan diakui diawasi dibayar dibiayai
        didanai dikawal dikritik dilantik dinas dinasti direksi direktur dokumen dolar
        dubes duit enkripsi eselon faksi fakta fanatik fraksi gubernur hibah honorer
        humas hutang ideologi imbalan incaran inspeksi instansi irjen isu jabatan jatah
        jurnalis juru juta jutaan jutawan kabinet kader kades kampanye kandidat kanselir
        kas keamanan kedutaan kejadian keluhan kerugian ketua keuangan klaim koalisi
        kombes komisi komunis kongres konsul konsulat kontrak koramil kubu lapor laporan
        laporkan lembaga liputan lobi lurah majelis maklumat mandat meliput memecat
        memihak mendagri mendanai mengadu mengaku mengakui menganut mengawal mengecam
        mengeluh menjabat menko menteri menyusup meraup merekam miliar miliaran miras
        nkri notaris oposisi orde ormas otoritas pajak pantau parlemen partai pdam
        pegawai pejabat pelapor pemangku pemilih pemilu penegak pengadu pengaduan
        pengaman pengawas penguasa perpres pers petahana petinggi petisi petugas pihak
        pilkada pilpres pimpinan pleno polemik politik politis politisi presiden protes
        proyek radikal rahasia redaksi rekam rekaman rekening revolusi rezim rupiah
        sandi sekda sekjen senat serikat setoran sorotan stempel sumber taruhan teguran
        temuan terlibat triliun tunai uang ungkap unjuk utang wakil wapres warta
        wartawan wewenang whistle
        """
    ),
    # Crime, police, courts, law, investigation, accusation, cheating.
    "crime": _words(
        """
        advokat amankan ancaman anonim aparat bahaya bandar banding bangkrut bebaskan
        berjudi bersaksi bersalah bidik bocor bohong bongkar bukti buktikan buronan cepu
        curang curi curiga dakwaan dalang denda detektif diadili dicap dicari dicuri
        didakwa diduga dihukum dijatuhi dilacak dilarang dipecat disakiti disangka
        disita ditahan ditipu dituduh dituntut ditutupi diungkap divonis duga dugaan
        dusta fiktif fitnah forensik gugatan hakim hukum hukuman ilegal indikasi insiden
        jahat jaksa jebakan judi kampret kasino kasus keadilan ketahuan korup korupsi
        koruptor kriminal kurungan lalai langgar lapas larang larangan licik mahkamah
        maling melacak melapor melarang memantau membusuk memeras menahan menduga
        menebus menipu menjebak menuduh menuntut menutupi menyeret menyita merampas
        modus narkoba oknum palsu pasal pecat pelacak pelarian pembela pencuri pengedar
        penipu penipuan penjahat penjara penuntut penyidik penyusup perdata periksa
        perkara perusak pidana polis polisi preman putusan razia rekayasa rutan saksi
        saksikan salah salahkan samaran sangka sanksi satpam segel sel selidiki sengketa
        sengsara sidang sidik sindikat sita skandal suap tahan tahanan tebusan terbukti
        terdakwa terduga terekam terjerat tertipu tindak tipu togel tuduhan tuntutan
        tutupi undang vonis
        """
    ),
    # Violence, weapons, war, military ranks, death, burial, illness,
    # disaster, ghosts, fear.
    "violence": _words(
        """
        agresi akut alkohol almarhum ambulans amunisi angkatan arak asma awas bajak
        bajingan bakar bangkai barak barbar bencana benci bentrok benturan beracun
        berdarah berduka biadab binasa bius bom bunuh buru buruan busuk cacar cacat
        cambuk candu cedera celaka cidera darah darurat dendam depresi derita diancam
        diare dibakar dibantai dibenci dibunuh diburu diculik diduduki dihajar dikejar
        dikepung dikubur dipaksa dipukul dirusak diserang disiksa ditabrak ditakuti
        ditembak ditusuk diusir duka eksekusi erupsi evakuasi ganas ganja gantung gawat
        gempa gencatan granat gugur hajar hantu hentikan hilang histeris horor iblis
        invasi isolasi jasad jenazah jenderal jijik kabur kaliber kamp kanker kapak
        kejam kejang kejar keji kejiwaan kelainan kematian keris khawatir kiamat kolonel
        kolonial koma komandan komando kompi konflik korban koroner korps kronis kubur
        kuburan kudeta laskar ledak ledakan legiun lenyap letkol letnan letusan longsor
        luka lumpuh makam mampus marinir markas marsekal mati matikan maut mayat melawan
        meledak melukai memaki memaksa membakar membasmi membenci membidik membunuh
        memburu memukul menabrak menculik mencuri mendiang menembak mengamuk mengemis
        menggila mengidap mengutuk menimpa menjarah menjerit menular menusuk menyamar
        menyerah menyerbu menyiksa merampok meriam milisi militan militer misil murka
        musibah musnah musuh ngeri nuklir nyawa obesitas operasi paksa paksaan pandemi
        panglima parang pasukan patogen patroli pecandu pedang peledak peluru pemangsa
        pembunuh pemukul penakut penculik penembak penenang pengawal pengemis penjaga
        penjajah penyakit perampok perang perwira peti pingsan pisau prajurit pukul
        pukulan racun radiasi ranjau rawan rudal runtuh sadis sakiti sandera sasaran
        sekarat sembunyi senapan senjata seram serang serangan serbu sersan siaga sial
        sialan sianida sihir siksa siksaan sindrom tabrak tabrakan takut takuti takutkan
        tangkap tawanan tembak tembakan tempur tentara terancam terbakar terbunuh teriak
        teriakan terjebak terkubur terluka teror teroris tersiksa tertimpa tewas tombak
        tragedi tragis tumbang tusuk urin usir vampir wabah wafat wasiat waspada
        """
    ),
    # Sexual words, intimate body parts and functions, alcohol and drugs.
    "sexual": _words(
        """
        aborsi aurat banci bercinta bir bokep bokong bugil cabul cium ciuman dada ereksi
        erotis gairah godaan haid hasrat intim janda janin kawin kelamin kemaluan
        kencing kentut ketiak kondom kontol kotoran lendir mabuk mencium mendesah
        menggoda menjilat menyusui merayu mesra mesum nafsu orgasme paha pantat payudara
        pelacur pembalut perawan pipis puting ranjang seks seksi seksual selir semen
        sperma tahi tergoda
        """
    ),
    # Religion: faiths, rituals, clergy, scripture, sin, the supernatural.
    "religion": _words(
        """
        aamiin adzan agama ahad ajaran akad akhirat akhlak alim alkitab amal amalan
        amanah amin ampun ampunan ampuni angker arwah ayat azab baginda bapa beragama
        berdoa berdosa berhala berhijab beriman berpuasa bersabda bertobat biara
        biarawan bidadari biksu candi ceramah dakwah dewa dikutuk dinar doa doakan
        doktrin dosa dukun duniawi dzikir fatwa firman gaib gereja gusti hadis hadits
        haji halal hamba haram hidayah hijab hijrah hijriyah hikmah hikmat ibadah ibnu
        idul ikhtiar ilahi ilham imam iman imlek injil insya islam islami jahanam jamaah
        jemaah jemaat jilbab jimat kafir kapel kardinal karunia kasim kasta katolik
        keimanan keramat kesucian ketaatan khalifah khilafah kiai kitab kristen kua
        kudus kuil kurban kutukan lebaran madrasah magis maha maksiat malaikat masehi
        masjid mazhab mazmur mekah memuja mengaji mesjid mimbar misa mistik mistis mui
        mukjizat mukmin mumi munafik muslimah muslimin nabi najis natal neraka nyai
        pahala paus pemujaan pemuka pendeta penganut penyihir pocong puasa raden rahim
        rasul religi religius roh rohani sabda sahur sakral salat saleh salib santri
        sedekah sekte sekuler sesat setan siluman solat subuh suci sujud sumpah sunan
        sunat surah surga syah syahid syaikh syariah syariat syekh syiah syirik tafsir
        tauhid taurat tuhan ulama umat umrah umroh uskup wakaf wali zakat ziarah zina
        """
    ),
    # Ethnic groups and race, disability and body shaming, insults.
    "identity": _words(
        """
        aib anjing babi bangsat batak bisu bodi bodoh botak brengsek buaya budak buncit
        buta cina etnis gemuk gendut gila goblok hina jelek keledai kera kerdil melayu
        mengejek miskin monyet murahan pemalas pengecut ras rasis terong tikus tolol
        tuli yahudi
        """
    ),
    # Countries, regions, cities, landmarks.
    "places": _words(
        """
        aceh afrika ambon amerika ampat ancol asean atlantik bali banda bandung bangka
        banjar banten bantul banyumas batam bekasi belanda belgia belitung bengkulu
        berau betawi biak bintan bitung blitar blora bogor bontang boyolali brasil
        brebes bromo bugis buleleng ceko ciamis cianjur cibinong cibubur cikampek
        cikarang cilacap cilegon cimahi cipinang ciputat cirebon demak denpasar depok
        dewata dieng dki donggala dumai ende eropa filipina garut gianyar gowa graha
        gresik grogol hindia hongkong hungaria inggris irak irlandia islandia italia
        jabar jakarta jambi jateng jatim jawa jayapura jember jepang jepara jerman jogja
        jombang joseon kalbar kalsel kalteng kaltim kamboja kampar kanada karawang
        karimun karo kebumen kediri kemang kendari kepri kerinci ketapang kidul klaten
        kolombia kroasia kuba kukar kulon kupang kuta kutai labuan lamongan lampung
        lebak lembang leste lombok lumajang luwu madinah madiun madura magelang magetan
        makasar malaka malang mamuju manado maroko mataram medan meksiko menteng merapi
        merauke mesir minahasa minang muna natuna nganjuk ngawi nias norwegia nunukan
        nusa pacitan padang palopo pantura papua pariaman pasifik pasuruan pati pemalang
        perancis polandia ponorogo portugis poso prancis priok progo rembang riau romawi
        rusia sabang sabu salatiga samosir sampang samudera selandia selo semanggi
        semarang senayan sentul serpong siak siantar sidoarjo sleman solok spanyol
        sragen subang sukabumi sulawesi sulsel sumatera sumatra sumba sumbar sumbawa
        sumedang sumenep sumsel sumut sunda surabaya suriah swedia tabanan tarakan tegal
        ternate tidung tiongkok toba tomohon toraja tuban turki ukraina vatikan wajo
        wonogiri wonosobo yaman yunani
        """
    ),
    # Personal names, titles of nobility, brands, media, organisations,
    # acronyms and abbreviations.
    "names": _words(
        """
        aan abah abdi ade adi adit agam agus ahmad ahok airasia aisyah aji akbar
        alfamart alif alun amien ananda anang anas andi andika andri angga anies anis
        antasari apbn arema arie arief arif arifin aris arjuna asep asih astra atik
        aulia autobots ayu azhar bajo bakrie bala bambang bani barito basri basuki
        baswedan batubara bawaslu bayu bca bem bhakti bima bintaro bisma bni bpom bri
        brigjen brimob britania budi budiman bukhari candra capres cawapres cek cimb
        daeng dahlan daihatsu danamon dapil daud dawud dayak dede dedi deni dewi diah
        dian dika diklat dikti dilan dimas dinda dirut doni doraemon dwi edi eka eko
        endang esdm eyang fadli fahmi fahri farhan fatimah fauzi fikri firaun firdaus
        fisip fitri fpi fuad gadang ganjar gatot gayo gerindra gilang girlband gita
        gojek golkar gor goryeo gramedia gunawan guntur habib habibie hadi halim hamka
        hamzah hanura haris hartono haruka harun haryanto hasan hasyim hendra heri heru
        hidayat hinata hmi hokage hti husein ibrani ihsan ika indosat indosiar indra ipb
        ipk irfan irwan iskandar isuzu itb iwan jaka jamil jek jne johar joko jokowi
        juanda jusuf kadin kairo kamil kanjeng kapolda kapolres kapolri kapolsek kapuas
        karno kartika kartini karun kasat kaskus kbri kencana kirana kis kodam kodim
        kominfo komnas koni kost kpi kpu kpud kristus kta kurnia kusuma kwang lawang
        lazio lia lingga lipi lubis lukman mabes mada mahfud mancur mang marga marzuki
        matius maulana medsos megawati migas moh monas motogp munir muri musa musi nanda
        napi nasir nasution ngurah nisa nobita novanto novi nugroho nuh nur nurdin nurul
        ojk oki osis panca pandawa pangdam panji parpol paskibra paslon paud paulus pdi
        pdip pemda pemkab pemkot perda persela persero persib persija pertiwi perum
        petrus pgri pilgub pki plak polda polres polresta polri polsek pon ponpes posko
        prabowo prabu pratama pribumi propinsi psis puan putu rahmat raihan rais raisa
        ramli rangga rani rara rasyid ratna rcti redmi retno reza rhoma ria ridwan rika
        rina rini risa riza rizal rizki rokan roro royong rsud rudi ruu saka sandiaga
        santoso saputra sari sasuke satgas satpol satria sekar semeru senen seon seong
        setiawan sigit sila sinta siska siti siwa siwon slamet slank sma smu sni soleh
        spbu subianto sudirman sukarno sulaiman sule sunbae surya susi susilo sutan
        syahrini syarif tama taruna tasya taufik telkom tiens tika tirmidzi tirta tita
        titi tki tni tpi tribun tvone tvri uas uda udin ugm uin ukm umar umi umkm undip
        unpad ustad utk uud vina wahid warnet wawan wib wibowo widodo wijaya wina wira
        wiranto wisnu wita wni wulan yamaha yani yasin yeol yeon yeong yesus yohanes
        yudi yul yuni yunus yusuf zainal zenfone zulkifli
        """
    ),
    # Slang, chat spellings, fillers, interjections, terms of address.
    "slang": _words(
        """
        aah abal abang abis adek aduh agan aja alang analisa ane angkot antri antrian
        anugrah apaan asem asi asik astaga atlit ayo baek bahawa baikan bakalan baling
        banget bareng barusan baya becanda bek beladiri belom bener beneran bentar ber
        bercita berhari beritahu berkerja berlama bijian bikin bla bolak bos bule bulus
        bung cabe cak cakep capek cemilan cepet cewe cewek cik cowok cuman curhat dah
        dalem dapet dateng degan deh dek deket denga denger detil diagnosa diakhir
        diawal dibagian didaerah didekat dihari dijalan dik dikala dikamar dikasih dikit
        dikota dil dimalam dimata dimuka diposisi direkam diruang dirubah distro diwaktu
        doang dok dong donk doyan duluan dur duren ehm eks elo elu emak emang engga
        enggak ente etnik eun fikiran fikirkan flek gado gak galau gan gede gelaran geng
        gesa gim gimana gini gitu gotong gratisan gua gue habisan hah hai halo hape hehe
        hehehe hei hembusan hihi hihihi hisap hore idr ijinkan ijo ikutan ilmuan imut
        inget iya jadul jae jago jing jomblo jua jugak kab kacangan kagak kah kak kalo
        kalu kan kang karuan kasi kayak kearah kebo kebon kece kehati kek kelamaan
        keliatan kemaren kep kerjaan keseruan ketawa kharisma klo kok komen komplit kos
        kosan kuatir kudu kukira lagian lagipula lah lalang laun lemot lha lho liat liku
        lobang loh loker mahu mak makasih mancing mas masal matian mbah mbak mem
        menelpon meng mengada mentri mikir milih mimin moga muasal mudahan muluk musti
        nah nak naksir nambah nangis ndak nek ngantuk ngapain ngasih nge ngentot ngerasa
        ngerti ngga nggak ngobrol ngomong ngopi ngotot nih nonton nopember norak ntar
        nulis numpang nunggu nyak nyambung nyari nyi oke olok omong omongan ongkir
        orderan oya pak pake pengen perhari pingin pondasi projek promo rame rapih
        realita rejeki resto ribet ruko sampe sda sebenar sedar segini segitu seksama
        sekurang sembako sempet seneng sentiasa seok sesiapa sesorang siakan sih sik
        sikit silih sistim sok sorga sutera syaraf syurga tau tehnik teka teki telefon
        telp temen temurun terangan tergesa tergila tetep timnas toh tok trus tuh tuk
        udah ultah ulu wah wahai waspadai yaa yah yap yuk
        """
    ),
    # Non-standard spellings (baku: "resiko" -> "risiko"), prepositions
    # written together ("dimana"), halves of reduplications or fixed
    # phrases ("kupu" from "kupu-kupu"), Malay-only forms.
    "nonstandard": _words(
        """
        agensi ala alias alm berabad beradik beresiko berfikir berjam berkali bernafas
        berpura berturut buahan bumn celcius cikal cita coklat cumi darimana diantara
        diatas dibalik dibawah dibidang didalam didepan didunia diklaim diluar dimana
        dimasa dirjen dirumah disaat disana disetiap disini disisi disitu ditangan
        ditempat ditengah eksis ekstrim elit faham fikir frustasi futsal gara handal
        hektar herbal ibukota ijin indo isteri jaman jendral kanak karir karna keatas
        kebawah kedalam kedepan kemana kerana kerumah kesana kesini ketempat ketidak
        komplek ksatria kupu kura laki lembab lumba mahluk masing menerus menyia
        merespon merk merubah nafas nasdem nasehat negri netizen nomer nyiakan obatan
        olah orangtua paru pasca pecinta peninggi perduli persatu personil plat pra
        praktek prodi pura putera puteri resiko respon sekedar sia silahkan skuad skuat
        sman suk supir suri syuting tahta telpon tik trims tunjukan ubur walikota warni
        """
    ),
}

BLOCKLIST: frozenset[str] = frozenset().union(*BLOCKLIST_CATEGORIES.values())


def reject_reason(
    word: str,
    zipf_id: float = 8.0,
    zipf_en: float = 0.0,
    known: Set[str] = frozenset(),
) -> str | None:
    """Return why ``word`` is not acceptable, or ``None`` if it is.

    ``zipf_id`` and ``zipf_en`` are the word's wordfreq Zipf frequencies in
    Indonesian and English; ``known`` is the set of Indonesian words used to
    recognise a stem plus a particle or clitic.  The defaults describe a
    frequent Indonesian word unknown in English, so the function can be used
    (and tested) without wordfreq.
    """
    if not _SHAPE_RE.fullmatch(word):
        return "shape"
    if word in BLOCKLIST:
        return "blocklist"
    if word.endswith("nya"):
        return "suffix-nya"
    for suffixes, reason in ((_PARTICLES, "particle"), (_CLITICS, "possessive")):
        for suffix in suffixes:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= MIN_LEN and stem in known:
                return reason
    if not _VOWELS.intersection(word):
        return "no-vowel"
    if _FOREIGN_RE.search(word):
        return "spelling"
    for match in _DOUBLE_RE.finditer(word):
        start = match.start()
        if not (match.group(1) == "g" and start > 0 and word[start - 1] == "n"):
            return "spelling"
    if zipf_en >= zipf_id - ENGLISH_MARGIN:
        return "english"
    return None


def select_words(
    ranked: list[str],
    zipf_id: dict[str, float],
    zipf_en: dict[str, float],
    size: int = TARGET_SIZE,
) -> tuple[list[str], int, Counter[str]]:
    """Pick the ``size`` most frequent acceptable words from ``ranked``.

    Returns the sorted words, how many candidates were examined, and a count
    of rejection reasons.
    """
    known = frozenset(ranked)
    chosen: list[str] = []
    reasons: Counter[str] = Counter()
    examined = 0
    for word in ranked:
        if len(chosen) == size:
            break
        examined += 1
        reason = reject_reason(word, zipf_id.get(word, 0.0), zipf_en.get(word, 0.0), known)
        if reason is None:
            chosen.append(word)
        else:
            reasons[reason] += 1
    if len(chosen) < size:
        raise SystemExit(f"only {len(chosen)} acceptable words, need {size}")
    return sorted(chosen), examined, reasons


def render(words: list[str]) -> str:
    return "".join(f"{word}\n" for word in words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive keys/wordlists/id.txt from wordfreq.")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="file to write (default: keys/wordlists/id.txt)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the file differs from a fresh derivation",
    )
    parser.add_argument(
        "--any-wordfreq",
        action="store_true",
        help=f"allow a wordfreq version other than {WORDFREQ_VERSION}",
    )
    args = parser.parse_args(argv)

    # Imported here so that the filters can be imported (and tested) without
    # wordfreq installed.
    from importlib.metadata import version

    try:
        import wordfreq  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print(
            f'wordfreq is not installed: pip install "wordfreq=={WORDFREQ_VERSION}" '
            "in a throwaway venv (see the top of this script)",
            file=sys.stderr,
        )
        return 2

    found = version("wordfreq")
    if found != WORDFREQ_VERSION and not args.any_wordfreq:
        print(
            f"wordfreq {found} installed, the list is derived from "
            f"{WORDFREQ_VERSION}; install that version or pass --any-wordfreq",
            file=sys.stderr,
        )
        return 2

    ranked: list[str] = wordfreq.top_n_list("id", POOL_SIZE)
    zipf_id = {word: wordfreq.zipf_frequency(word, "id") for word in ranked}
    zipf_en = {word: wordfreq.zipf_frequency(word, "en") for word in ranked}
    words, examined, reasons = select_words(ranked, zipf_id, zipf_en)

    summary = ", ".join(f"{name} {count}" for name, count in reasons.most_common())
    print(
        f"{len(ranked)} words in wordfreq's Indonesian list; examined the "
        f"{examined} most frequent, kept {len(words)}; rejected: {summary}",
        file=sys.stderr,
    )

    text = render(words)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date", file=sys.stderr)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
