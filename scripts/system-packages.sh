# Sourced by scripts/test: the Debian/Ubuntu packages the tests use, installed with apt-get when
# missing and allowed (root, or sudo without a password). Set FAPIAO_NO_APT=1 to never install.
# Without them the tests that need them are skipped locally and fail under CI=true.
#   tesseract-ocr, tesseract-ocr-chi-sim  OCR of scanned invoices
#   fonts-wqy-microhei                    a CJK font, so generated scans show Chinese text
#   postgresql                            a server the storage tests start on loopback (not the system one)
#   dovecot-core, dovecot-imapd           an IMAP server (/usr/sbin/dovecot) the mail tests start on loopback;
#                                         the package's own system service is not used
system_packages=(tesseract-ocr tesseract-ocr-chi-sim fonts-wqy-microhei postgresql dovecot-core dovecot-imapd)

install_system_packages() {
  local missing=() package
  command -v dpkg-query >/dev/null 2>&1 || return 0  # not Debian-like: the tests say what is missing
  for package in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ -n "${FAPIAO_NO_APT:-}" ]; then
    echo "Not installing ${missing[*]} (FAPIAO_NO_APT is set)" >&2
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "Not installing ${missing[*]}: needs root (run: sudo apt-get install ${missing[*]})" >&2
      return 0
    fi
  fi
  echo "Installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_system_packages
