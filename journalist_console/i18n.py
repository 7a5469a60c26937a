"""Interface texts of the web console, Indonesian first, English second.

A dictionary inside the package rather than gettext catalogs: the console has a few dozen strings,
no build step is needed to compile catalogs, and a test checks that every key has both languages.
Labels of statuses, categories and relations come from keys.records, shared with the server.
Templates call t("key"); the language is chosen per browser with a cookie (default Indonesian).
"""

from __future__ import annotations

from keys.records import CATEGORIES, RELATIONS, STATUSES

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"

TEXTS: dict[str, tuple[str, str]] = {
    "app_title": ("Konsol Investigator WBS", "WBS investigator console"),
    "queue": ("Antrean", "Queue"),
    "import": ("Impor", "Import"),
    "export": ("Ekspor", "Export"),
    "stats": ("Statistik", "Statistics"),
    "audit": ("Log audit", "Audit log"),
    "lock": ("Kunci", "Lock"),
    "other_language": ("English", "Bahasa Indonesia"),
    "unlock_title": ("Buka konsol", "Unlock the console"),
    "passphrase": ("Frasa sandi", "Passphrase"),
    "unlock": ("Buka", "Unlock"),
    "wrong_passphrase": ("Frasa sandi salah.", "Wrong passphrase."),
    "locked_idle": (
        "Konsol dikunci karena tidak digunakan.",
        "The console was locked after a period of inactivity.",
    ),
    "locked": ("Konsol telah dikunci.", "The console is locked."),
    "filter": ("Saring", "Filter"),
    "all": ("Semua", "All"),
    "status": ("Status", "Status"),
    "category": ("Kategori", "Category"),
    "regno": ("Nomor registrasi", "Register number"),
    "received": ("Diterima", "Received"),
    "due": ("Batas waktu", "Due"),
    "days_left": ("Sisa hari", "Days left"),
    "overdue": ("Terlambat", "Overdue"),
    "overdue_by": ("terlambat {n} hari", "overdue by {n} days"),
    "left_n": ("{n} hari lagi", "{n} days left"),
    "due_today": ("jatuh tempo hari ini", "due today"),
    "done": ("selesai", "done"),
    "unread": ("Belum dibaca", "Unread"),
    "new": ("baru", "new"),
    "no_reports": ("Belum ada laporan.", "No reports."),
    "unreadable": ("tidak dapat dibaca", "unreadable"),
    "report": ("Laporan", "Report"),
    "reporter": ("Pelapor", "Reporter"),
    "relation": ("Hubungan pelapor", "Reporter's relation"),
    "what": ("Apa", "What"),
    "who": ("Siapa", "Who"),
    "where": ("Di mana", "Where"),
    "when": ("Kapan", "When"),
    "how": ("Bagaimana", "How"),
    "message": ("Pesan", "Message"),
    "pseudonym": ("Nama samaran", "Pseudonym"),
    "contact": ("Kontak", "Contact"),
    "not_given": ("(tidak diisi)", "(not given)"),
    "files": ("Berkas", "Files"),
    "no_files": ("Tidak ada berkas.", "No files."),
    "download_original": ("Unduh asli", "Download original"),
    "download_stripped": ("Unduh tanpa metadata", "Download without metadata"),
    "files_warning": (
        "Berkas tidak pernah dibuka oleh konsol. Buka hanya dengan penampil di komputer yang "
        "tidak terhubung ke jaringan.",
        "The console never opens files itself. Open them only with a viewer on a machine "
        "that is not connected to any network.",
    ),
    "save_to_folder": ("Simpan semua berkas ke folder", "Save all files to a folder"),
    "folder": ("Folder tujuan", "Destination folder"),
    "save": ("Simpan", "Save"),
    "history": ("Riwayat status", "Status history"),
    "automatic": ("otomatis", "automatic"),
    "exported": ("sudah diekspor", "exported"),
    "waiting_export": ("menunggu ekspor", "waiting for export"),
    "conversation": ("Percakapan", "Conversation"),
    "followup": ("Informasi tambahan", "Follow-up"),
    "reply": ("Balasan", "Reply"),
    "send_reply": ("Simpan balasan", "Record reply"),
    "reply_help": (
        "Balasan dikirim ke pelapor pada ekspor berikutnya. Jangan menulis nama pribadi.",
        "The reply reaches the reporter with the next export. Do not write personal names.",
    ),
    "change_status": ("Ubah status", "Change status"),
    "status_note": ("Catatan untuk pelapor (opsional)", "Note to the reporter (optional)"),
    "notes": ("Catatan internal", "Internal notes"),
    "notes_help": ("Tidak pernah diekspor.", "Never exported."),
    "add_note": ("Tambah catatan", "Add note"),
    "acknowledged": ("Dibaca pertama", "First viewed"),
    "first_response": ("Tanggapan pertama", "First response"),
    "closed_day": ("Ditutup", "Closed"),
    "import_title": ("Impor bundel dari server", "Import a bundle from the server"),
    "bundle_file": ("Berkas bundel", "Bundle file"),
    "server_key": ("Kunci server", "Server key"),
    "none_pinned": ("(belum ada)", "(none yet)"),
    "confirm_key_title": ("Konfirmasi kunci server", "Confirm the server key"),
    "confirm_key_help": (
        "Impor pertama: bandingkan sidik jari ini dengan yang dibacakan operator dari server. "
        "Setelah dikonfirmasi, hanya kunci ini yang dipercaya.",
        "First import: compare this fingerprint with the one the operator reads from the "
        "server. Once confirmed, only this key is trusted.",
    ),
    "confirm": ("Sidik jari cocok, impor", "The fingerprints match: import"),
    "cancel": ("Batal", "Cancel"),
    "imported": (
        "Bundel {seq} diimpor: {reports} laporan baru, {entries} entri baru.",
        "Imported bundle {seq}: {reports} new reports, {entries} new entries.",
    ),
    "already_imported": (
        "Bundel {seq} sudah pernah diimpor; tidak ada yang berubah.",
        "Bundle {seq} was imported before; nothing changed.",
    ),
    "gap_warning": (
        "Peringatan: bundel {first}–{last} dari server ini belum pernah diimpor.",
        "Warning: bundles {first}–{last} from this server were never imported here.",
    ),
    "unreadable_warning": (
        "Peringatan: {regno} memuat amplop yang tidak dapat didekripsi konsol ini.",
        "Warning: {regno} holds an envelope this console cannot decrypt.",
    ),
    "imports_done": ("Impor sebelumnya", "Earlier imports"),
    "export_title": ("Ekspor tanggapan ke server", "Export responses to the server"),
    "export_pending": (
        "Menunggu ekspor: {responses} tanggapan, {acks} tanda terima.",
        "Waiting for export: {responses} responses, {acks} acknowledgements.",
    ),
    "export_button": ("Buat bundel ekspor", "Write the export bundle"),
    "exported_ok": (
        "Bundel {seq} ditulis: {responses} tanggapan, {acks} tanda terima.",
        "Wrote bundle {seq}: {responses} responses, {acks} acknowledgements.",
    ),
    "exported_empty": (
        "Tidak ada yang baru; bundel kosong {seq} tetap ditulis.",
        "Nothing new; an empty bundle {seq} was written anyway.",
    ),
    "exported_completed": (
        "Ekspor {seq} yang terputus telah diselesaikan; ekspor lagi untuk yang lebih baru.",
        "Completed the interrupted export {seq}; export again for anything newer.",
    ),
    "exports_done": ("Bundel yang telah ditulis", "Bundles written"),
    "download": ("Unduh", "Download"),
    "sequence": ("Nomor urut", "Sequence"),
    "day": ("Tanggal", "Day"),
    "responses": ("Tanggapan", "Responses"),
    "acks": ("Tanda terima", "Acknowledgements"),
    "total": ("Jumlah laporan", "Reports"),
    "median_ack": ("Median hari sampai dibaca", "Median days to first view"),
    "median_first": ("Median hari sampai tanggapan pertama", "Median days to first response"),
    "median_close": ("Median hari sampai selesai", "Median days to close"),
    "by_status": ("Menurut status", "By status"),
    "by_category": ("Menurut kategori", "By category"),
    "audit_ok": (
        "Log audit utuh: {count} entri. Hash terakhir:",
        "Audit log intact: {count} entries. Head hash:",
    ),
    "audit_broken": ("Log audit rusak:", "Audit log damaged:"),
    "audit_hint": (
        "Catat hash terakhir di luar konsol (misalnya di buku log) untuk pembuktian.",
        "Write the head hash down outside the console (a paper log) to anchor it.",
    ),
    "action": ("Tindakan", "Action"),
    "time": ("Waktu (UTC)", "Time (UTC)"),
    "not_found": ("Tidak ditemukan", "Not found"),
    "error": ("Kesalahan", "Error"),
    "bad_request": ("Permintaan tidak valid.", "Bad request."),
    "saved_files": ("{count} berkas disimpan ke {folder}.", "Saved {count} files to {folder}."),
    "reply_saved": (
        "Balasan disimpan; dikirim pada ekspor berikutnya.",
        "Reply recorded; it leaves with the next export.",
    ),
    "status_saved": (
        "Status diubah; dikirim pada ekspor berikutnya.",
        "Status changed; it leaves with the next export.",
    ),
    "note_saved": ("Catatan internal ditambahkan.", "Internal note added."),
    "designation": ("Sebutan pelapor", "Reporter's designation"),
    "chars_max": ("maks. {n} karakter", "at most {n} characters"),
    # Errors (the command line shows the English message of the same ConsoleError).
    "reply_empty": ("Balasan kosong.", "The reply is empty."),
    "reply_too_long": (
        "Balasan terlalu panjang: paling banyak {n} karakter.",
        "The reply is too long: at most {n} characters.",
    ),
    "note_empty": ("Catatan kosong.", "The note is empty."),
    "note_too_long": (
        "Catatan terlalu panjang: paling banyak {n} karakter.",
        "The note is too long: at most {n} characters.",
    ),
    "status_unknown": ("Status tidak dikenal.", "Unknown status."),
    "status_note_too_long": (
        "Catatan status terlalu panjang: paling banyak {n} karakter.",
        "The status note is too long: at most {n} characters.",
    ),
    "unknown_report": (
        "Laporan {regno} tidak ada di konsol ini.",
        "No report {regno} is held by this console.",
    ),
    "invalid_regno": ("Nomor registrasi tidak valid.", "Not a valid register number."),
    "file_too_large": (
        "Berkas terlalu besar untuk diunduh lewat peramban; simpan ke folder.",
        "The file is too large to download in the browser; save it to a folder.",
    ),
    "not_a_directory": ("Folder tujuan tidak ada.", "The destination folder does not exist."),
    "folder_absolute": (
        "Tuliskan jalur lengkap folder yang sudah ada (mis. /media/usb/kasus).",
        "Give the full path of an existing folder (e.g. /media/usb/case).",
    ),
    "report_has_no_files": ("Laporan ini tidak memiliki berkas.", "This report has no files."),
    "strip_failed": (
        "Salinan tanpa metadata hanya untuk gambar JPEG/PNG yang utuh: {reason}",
        "A copy without metadata exists only for intact JPEG/PNG images: {reason}",
    ),
    "import_refused": ("Bundel ditolak: {reason}", "Bundle refused: {reason}"),
    "upload_expired": (
        "Unggahan kedaluwarsa; pilih berkasnya lagi.",
        "The upload expired; choose the file again.",
    ),
    "export_no_import": (
        "Belum pernah ada impor: server tujuan belum diketahui.",
        "Nothing was ever imported: the server is not known yet.",
    ),
    # Accounts, assignment and recusal (issue 11).
    "user_name": ("Nama pengguna", "User name"),
    "accounts": ("Akun", "Accounts"),
    "role": ("Peran", "Role"),
    "role_admin": ("administrator", "administrator"),
    "role_investigator": ("investigator", "investigator"),
    "actor": ("Oleh", "By"),
    "by_user": ("oleh {user}", "by {user}"),
    "me": ("saya", "me"),
    "mine": ("Hanya yang ditugaskan kepada saya", "Only those assigned to me"),
    "assignee": ("Ditugaskan kepada", "Assigned to"),
    "assignment": ("Penugasan", "Assignment"),
    "assign_to": ("Tugaskan kepada", "Assign to"),
    "assign": ("Tugaskan", "Assign"),
    "nobody": ("(tidak ada)", "(nobody)"),
    "assigned_since": ("sejak {day}, oleh {user}", "since {day}, by {user}"),
    "assigned_ok": ("Laporan ditugaskan kepada {user}.", "The report is assigned to {user}."),
    "unassigned_ok": ("Penugasan laporan dicabut.", "The report is no longer assigned."),
    "was_not_assigned": ("Laporan ini memang belum ditugaskan.", "The report was not assigned."),
    "recused_badge": ("mengundurkan diri", "recused"),
    "recused_row": (
        "Anda menyatakan konflik kepentingan atas laporan ini; isinya tidak ditampilkan.",
        "You declared a conflict of interest on this report; nothing of it is shown.",
    ),
    "recused_investigators": ("Mengundurkan diri", "Recused"),
    "recusals": ("Pengunduran diri (konflik kepentingan)", "Recusals (conflicts of interest)"),
    "no_recusals": ("Tidak ada pengunduran diri.", "No recusals."),
    "recuse_title": ("Konflik kepentingan", "Conflict of interest"),
    "recuse_help": (
        "Jika Anda memiliki konflik kepentingan, nyatakan di sini. Setelah itu Anda tidak dapat "
        "membuka laporan ini lagi; hanya administrator lain yang dapat mencabutnya. Tercatat di "
        "log audit.",
        "If you have a conflict of interest, declare it here. You will no longer be able to open "
        "this report; only another administrator can lift this. It is recorded in the audit log.",
    ),
    "recuse_reason": ("Alasan (hanya untuk administrator)", "Reason (for administrators only)"),
    "recuse_confirm": (
        "Saya mengerti bahwa saya tidak akan dapat membuka laporan ini lagi.",
        "I understand that I will no longer be able to open this report.",
    ),
    "recuse_button": ("Nyatakan konflik kepentingan", "Declare a conflict of interest"),
    "recuse_confirm_missing": (
        "Centang kotak konfirmasi untuk menyatakan konflik kepentingan.",
        "Tick the confirmation box to declare a conflict of interest.",
    ),
    "recused_ok": (
        "Anda mengundurkan diri dari {regno}; laporan ini tidak dapat Anda buka lagi.",
        "You are recused from {regno}; you can no longer open it.",
    ),
    "recused": (
        "Anda telah mengundurkan diri dari {regno} pada {day} (konflik kepentingan), sehingga "
        "tidak dapat membukanya. Hanya administrator lain yang dapat mencabut pengunduran diri.",
        "You recused yourself from {regno} on {day} (conflict of interest), so you cannot open "
        "it. Only another administrator can lift a recusal.",
    ),
    "already_recused": (
        "Anda sudah mengundurkan diri dari {regno}.",
        "You already recused yourself from {regno}.",
    ),
    "assignee_recused": (
        "{user} tidak dapat ditugaskan untuk {regno} (mengundurkan diri).",
        "{user} cannot be assigned {regno} (recused).",
    ),
    "not_recused": (
        "Investigator itu tidak mengundurkan diri.",
        "That investigator is not recused.",
    ),
    "own_recusal": (
        "Tidak ada yang dapat mencabut pengunduran dirinya sendiri; administrator lain harus "
        "melakukannya.",
        "Nobody can lift their own recusal; another administrator must.",
    ),
    "own_recusal_note": ("milik Anda sendiri", "your own"),
    "lift_recusal": ("Cabut pengunduran diri", "Lift the recusal"),
    "recusal_lifted": (
        "Pengunduran diri {user} dari {regno} dicabut.",
        "The recusal of {user} from {regno} is lifted.",
    ),
    "reason_too_long": (
        "Alasan terlalu panjang: paling banyak {n} karakter.",
        "The reason is too long: at most {n} characters.",
    ),
    "accounts_help": (
        "Setiap investigator membuka konsol dengan frasa sandinya sendiri, dan setiap tindakan "
        "tercatat atas namanya. Balasan ditandatangani dengan nama tampilan (bawaan: {author}), "
        "tidak pernah dengan nama pengguna.",
        "Each investigator unlocks the console with their own passphrase, and every action is "
        "recorded under their name. Replies are signed with a display name (by default: "
        "{author}), never with the user name.",
    ),
    "display_name": ("Nama tampilan pada balasan", "Display name on replies"),
    "display_name_help": (
        "yang dilihat pelapor; kosongkan untuk memakai {author}",
        "what reporters see; leave empty for {author}",
    ),
    "console_author": ("nama bawaan konsol", "the console's author name"),
    "use_console_author": (
        "Gunakan nama bawaan konsol ({author})",
        "Use the console's name ({author})",
    ),
    "added": ("Ditambahkan", "Added"),
    "removed": ("Dihapus", "Removed"),
    "removed_on": ("dihapus {day} oleh {user}", "removed {day} by {user}"),
    "your_passphrase": ("Frasa sandi Anda (konfirmasi)", "Your passphrase (to confirm)"),
    "add_user": ("Tambah investigator", "Add an investigator"),
    "user_name_rule": (
        "huruf kecil, angka, - atau _, diawali huruf; tidak dapat dipakai ulang",
        "lower-case letters, digits, - or _, starting with a letter; never reused",
    ),
    "make_admin": ("Jadikan administrator", "Make them an administrator"),
    "new_passphrase": ("Frasa sandi baru", "New passphrase"),
    "new_passphrase_again": ("Ulangi frasa sandi baru", "Repeat the new passphrase"),
    "change_passphrase": ("Ganti frasa sandi saya", "Change my passphrase"),
    "reset_passphrase": ("Atur ulang frasa sandi", "Reset the passphrase"),
    "edit_user": ("Peran dan nama tampilan", "Role and display name"),
    "remove_user": ("Hapus investigator", "Remove the investigator"),
    "remove_user_help": (
        "Frasa sandinya tidak lagi membuka konsol ini dan kotak kuncinya ditimpa lalu dihapus. "
        "Tindakannya tetap tercatat atas namanya; nama ini tidak dapat dipakai lagi.",
        "Their passphrase no longer unlocks this console and their key box is overwritten and "
        "deleted. Their actions stay recorded under their name; the name cannot be reused.",
    ),
    "remove_type_name": ("Ketik {user} untuk mengonfirmasi", "Type {user} to confirm"),
    "remove_confirm_missing": (
        "Ketik nama pengguna untuk mengonfirmasi penghapusan.",
        "Type the user name to confirm the removal.",
    ),
    "user_added": ("Investigator {user} ditambahkan.", "Added the investigator {user}."),
    "user_removed_ok": ("Investigator {user} dihapus.", "Removed the investigator {user}."),
    "user_changed": ("Akun {user} diperbarui.", "Updated the account of {user}."),
    "passphrase_changed": ("Frasa sandi Anda diganti.", "Your passphrase was changed."),
    "passphrase_reset": ("Frasa sandi {user} diatur ulang.", "The passphrase of {user} was reset."),
    # Account errors.
    "invalid_user_name": (
        "Nama pengguna tidak valid: huruf kecil, angka, - atau _, diawali huruf (maks. 32).",
        "Invalid user name: lower-case letters, digits, - or _, starting with a letter (max. 32).",
    ),
    "user_required": (
        "Beberapa investigator memakai konsol ini; isi nama pengguna Anda.",
        "Several investigators use this console; fill in your user name.",
    ),
    "unknown_user": (
        "Investigator {user} tidak dapat membuka konsol ini (tidak ada atau telah dihapus).",
        "The investigator {user} cannot unlock this console (no such account, or removed).",
    ),
    "user_removed": (
        "Investigator {user} telah dihapus dan tidak dapat membuka konsol ini lagi.",
        "The investigator {user} was removed and can no longer unlock this console.",
    ),
    "admin_only": (
        "Hanya administrator yang dapat melakukan ini.",
        "Only an administrator can do this.",
    ),
    "cannot_remove_self": (
        "Anda tidak dapat menghapus akun Anda sendiri; mintalah administrator lain.",
        "You cannot remove yourself; ask another administrator.",
    ),
    "last_admin": (
        "Administrator terakhir tidak dapat dihapus atau diturunkan.",
        "The last administrator can be neither removed nor demoted.",
    ),
    "user_exists": ("Nama pengguna itu sudah ada.", "That user name already exists."),
    "user_name_used": (
        "Nama itu milik investigator yang telah dihapus; nama tidak dipakai ulang. "
        "Pilih nama lain.",
        "That name belonged to a removed investigator; names are not reused. Choose another.",
    ),
    "display_name_invalid": (
        "Nama tampilan harus satu baris, 1 sampai {n} karakter.",
        "The display name must be one line of 1 to {n} characters.",
    ),
    "confirm_passphrase_wrong": (
        "Frasa sandi Anda (konfirmasi) salah; tidak ada yang berubah.",
        "Your passphrase (to confirm) is wrong; nothing changed.",
    ),
    "passphrases_differ": (
        "Kedua frasa sandi baru berbeda; tidak ada yang berubah.",
        "The two new passphrases differ; nothing changed.",
    ),
    "passphrase_too_short": (
        "Frasa sandi terlalu pendek: paling sedikit {n} karakter.",
        "The passphrase is too short: at least {n} characters.",
    ),
    # Retention (issue 10)
    "retention": ("Retensi", "Retention"),
    "retention_help": (
        "Laporan yang selesai (ditutup, ditolak atau diteruskan) dihapus dari konsol sejumlah hari "
        "setelah peristiwa terakhirnya (status akhir, atau tambahan informasi atau balasan "
        "sesudahnya). Laporan dengan balasan yang belum diekspor atau kiriman yang belum "
        "dikonfirmasi ke server menunggu ekspor berikutnya. Log audit hanya mencatat bahwa retensi "
        "dijalankan dan berapa laporan yang dihapus; entri lama tetap menyebut nomor registrasi "
        "karena rantai hash tidak boleh ditulis ulang.",
        "Finished reports (closed, rejected or forwarded) are removed from the console a number "
        "of days after their last event (the final status, or a later follow-up or reply). "
        "A report with a reply not yet exported or an entry not yet acknowledged to the server "
        "waits for the next export. The audit log records only that retention ran and how many "
        "reports it removed; older entries still name register numbers, because the hash chain "
        "must not be rewritten.",
    ),
    "retention_off": (
        "Retensi nonaktif: laporan yang selesai disimpan selamanya.",
        "Retention is off: finished reports are kept forever.",
    ),
    "retention_setting": (
        "{days} hari setelah peristiwa terakhir laporan yang selesai, lalu {then}.",
        "{days} days after a finished report's last event, then {then}.",
    ),
    "retention_then_delete": ("dihapus", "deleted"),
    "retention_then_archive": (
        "diarsipkan (terenkripsi) ke {folder} lalu dihapus",
        "archived (encrypted) into {folder}, then deleted",
    ),
    "retention_days_label": (
        "Hari retensi (0 = simpan selamanya)",
        "Retention days (0 = keep forever)",
    ),
    "retention_mode_label": ("Setelah batas retensi", "After the retention limit"),
    "retention_mode_delete": ("hapus", "delete"),
    "retention_mode_archive": (
        "arsipkan terenkripsi, lalu hapus",
        "archive encrypted, then delete",
    ),
    "archive_dir_label": (
        "Folder arsip (path lengkap, di luar folder konsol)",
        "Archive folder (full path, outside the console's home)",
    ),
    "retention_save": ("Simpan pengaturan retensi", "Save the retention settings"),
    "retention_saved": ("Pengaturan retensi disimpan.", "Retention settings saved."),
    "retention_preview": (
        "Uji coba (tanpa perubahan): jika dijalankan sekarang, {n} laporan akan dihapus "
        "(peristiwa terakhir pada atau sebelum {cutoff}).",
        "Dry run (nothing changes): if run now, {n} reports would be removed "
        "(last event on or before {cutoff}).",
    ),
    "retention_waiting": (
        "{n} laporan lain sudah melewati batas tetapi menunggu ekspor berikutnya.",
        "{n} more are past the limit but wait for the next export.",
    ),
    "retention_confirm": (
        "Saya mengerti bahwa laporan ini dihapus dari konsol untuk selamanya.",
        "I understand that these reports are removed from the console for good.",
    ),
    "retention_run": ("Jalankan retensi sekarang", "Run retention now"),
    "retention_manage": ("Retensi…", "Retention…"),
    "retention_confirm_missing": (
        "Centang kotak konfirmasi untuk menjalankan retensi.",
        "Tick the confirmation box to run retention.",
    ),
    "retention_done": (
        "Retensi selesai: {n} laporan dihapus.",
        "Retention done: {n} reports removed.",
    ),
    "retention_archived": ("{n} arsip ditulis ke {folder}.", "{n} archives written into {folder}."),
    "retention_not_archived": (
        "{n} laporan tidak dapat diarsipkan dan tetap di konsol: {reasons}",
        "{n} reports could not be archived and stay on the console: {reasons}",
    ),
    "retention_days_range": (
        "Hari retensi harus 0 (simpan selamanya) atau antara {low} dan {high}.",
        "Retention days must be 0 (keep forever) or between {low} and {high}.",
    ),
    "retention_days_invalid": (
        "Hari retensi harus berupa bilangan bulat.",
        "Retention days must be a whole number.",
    ),
    "retention_mode_unknown": ("Mode retensi tidak dikenal.", "Unknown retention mode."),
    "archive_dir_absolute": (
        "Tulis folder arsip sebagai path lengkap (folder harus sudah ada).",
        "Give the archive folder as a full path (it must exist).",
    ),
    "archive_dir_missing": (
        "Folder arsip {folder} tidak ada.",
        "The archive folder {folder} does not exist.",
    ),
    "archive_dir_in_home": (
        "Folder arsip harus berada di luar folder konsol: arsip di sana akan menyimpan apa yang "
        "dihapus retensi.",
        "The archive folder must be outside the console's home: an archive there would keep what "
        "retention removes.",
    ),
    "archive_dir_needed": (
        "Mode arsip memerlukan folder arsip.",
        "Archive mode needs an archive folder.",
    ),
}


def error_text(error: Exception, language: str) -> str:
    """A ConsoleError in the reader's language when it has a key, else its English message."""
    key = getattr(error, "key", None)
    values = getattr(error, "values", {})
    if isinstance(key, str) and key in TEXTS:
        return text(key, language, **values)
    return str(error)


def text(key: str, language: str, **values: object) -> str:
    pair = TEXTS.get(key)
    if pair is None:
        return key
    template = pair[1] if language == "en" else pair[0]
    return template.format(**values) if values else template


def _label(table: dict[str, tuple[str, str]], key: str | None, language: str) -> str:
    if key is None:
        return text("unreadable", language)
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" else pair[0]


def status_label(status: str, language: str) -> str:
    return _label(STATUSES, status, language)


def category_label(category: str | None, language: str) -> str:
    return _label(CATEGORIES, category, language)


def relation_label(relation: str, language: str) -> str:
    return _label(RELATIONS, relation, language) if relation else text("not_given", language)
