; smbcrm installer for Windows: a per-user install that needs no administrator rights.
;
; Built by packaging/windows/build-installer.sh, which passes (makensis -DNAME=VALUE):
;   VERSION      smbcrm.__version__, e.g. 0.1.0
;   WIN_VERSION  the same as four numbers for the version resource, e.g. 0.1.0.0
;   APP_ID       smbcrm.APP_ID (co.smbcrm.SmbCrm): the uninstall registry key
;   APP_NAME     smbcrm.APP_NAME (smbcrm): program, shortcut and data folder name
;   BUNDLE_DIR   the PyInstaller one-folder bundle (smbcrm.exe + _internal\)
;   ICON         the .ico generated from smbcrm/resources/icons/smbcrm.svg
;   LICENSE_FILE the GPL text shown before installing
;   OUTFILE      where to write the installer

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user ; per-user: no UAC prompt, nothing written outside the user's profile

!ifdef VERSION & WIN_VERSION & APP_ID & APP_NAME & BUNDLE_DIR & ICON & LICENSE_FILE & OUTFILE
!else
  !error "Run packaging/windows/build-installer.sh, which defines VERSION, BUNDLE_DIR and the rest."
!endif

!define EXE "${APP_NAME}.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
; Where platformdirs puts the shop file, backups and logs (user_data_dir, appauthor=False), and
; where QSettings keeps window positions (organisation and application "smbcrm").
!define DATA_DIR "$LOCALAPPDATA\${APP_NAME}"
!define SETTINGS_KEY "Software\${APP_NAME}"

Name "${APP_NAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${VERSION}"
ShowInstDetails hide
ShowUninstDetails hide

VIProductVersion "${WIN_VERSION}"
VIFileVersion "${WIN_VERSION}"
VIAddVersionKey /LANG=0 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "${APP_NAME} ${VERSION} setup"
VIAddVersionKey /LANG=0 "CompanyName" "The smbcrm developers"
VIAddVersionKey /LANG=0 "LegalCopyright" "GPL-3.0-or-later"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "nsDialogs.nsh"
!include "FileFunc.nsh"
!include "x64.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_LANGDLL_ALLLANGUAGES
; The uninstaller speaks the language the installer was run in.
!define MUI_LANGDLL_REGISTRY_ROOT HKCU
!define MUI_LANGDLL_REGISTRY_KEY "${UNINSTALL_KEY}"
!define MUI_LANGDLL_REGISTRY_VALUENAME "InstallerLanguage"

!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_NOTCHECKED

!insertmacro MUI_PAGE_WELCOME
!define MUI_LICENSEPAGE_BUTTON "$(^NextBtn)"
!define MUI_LICENSEPAGE_TEXT_BOTTOM "$(LicenseBottom)"
!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
UninstPage custom un.DataPageShow un.DataPageLeave
!insertmacro MUI_UNPAGE_INSTFILES

; Spanish first: the first language is the default when Windows speaks neither.
!insertmacro MUI_LANGUAGE "Spanish"
!insertmacro MUI_LANGUAGE "English"

LangString SectionProgram ${LANG_SPANISH} "smbcrm (obligatorio)"
LangString SectionProgram ${LANG_ENGLISH} "smbcrm (required)"
LangString SectionStartMenu ${LANG_SPANISH} "Acceso en el menú Inicio"
LangString SectionStartMenu ${LANG_ENGLISH} "Start menu shortcut"
LangString SectionDesktop ${LANG_SPANISH} "Acceso en el escritorio"
LangString SectionDesktop ${LANG_ENGLISH} "Desktop shortcut"
LangString DescProgram ${LANG_SPANISH} "El programa. Los datos de tu tienda se guardan aparte y no se tocan."
LangString DescProgram ${LANG_ENGLISH} "The program. Your shop's data is kept elsewhere and left alone."
LangString DescStartMenu ${LANG_SPANISH} "Abre smbcrm desde el menú Inicio."
LangString DescStartMenu ${LANG_ENGLISH} "Open smbcrm from the Start menu."
LangString DescDesktop ${LANG_SPANISH} "Abre smbcrm con doble clic en el escritorio."
LangString DescDesktop ${LANG_ENGLISH} "Open smbcrm by double-clicking on the desktop."
LangString LicenseBottom ${LANG_SPANISH} "smbcrm es software libre (GPL 3 o posterior): no tienes que aceptar nada para usarlo."
LangString LicenseBottom ${LANG_ENGLISH} "smbcrm is free software (GPL 3 or later): you need not accept anything to use it."
LangString ShortcutComment ${LANG_SPANISH} "Los clientes de tu tienda"
LangString ShortcutComment ${LANG_ENGLISH} "The customers of your shop"
LangString Needs64Bit ${LANG_SPANISH} "smbcrm necesita Windows de 64 bits."
LangString Needs64Bit ${LANG_ENGLISH} "smbcrm needs 64-bit Windows."
LangString DataPageTitle ${LANG_SPANISH} "Los datos de tu tienda"
LangString DataPageTitle ${LANG_ENGLISH} "Your shop's data"
LangString DataPageSubtitle ${LANG_SPANISH} "Se conservan, salvo que pidas borrarlos."
LangString DataPageSubtitle ${LANG_ENGLISH} "They are kept unless you ask to delete them."
LangString DataPageText ${LANG_SPANISH} "Se quitará el programa. Tus clientes, ventas, copias de seguridad y registros quedan en$\r$\n${DATA_DIR}$\r$\npara cuando vuelvas a instalar smbcrm."
LangString DataPageText ${LANG_ENGLISH} "The program will be removed. Your customers, sales, backups and logs stay in$\r$\n${DATA_DIR}$\r$\nfor when you install smbcrm again."
LangString DataPageCheckbox ${LANG_SPANISH} "Borrar también mis datos (no se puede deshacer)"
LangString DataPageCheckbox ${LANG_ENGLISH} "Also delete my data (this cannot be undone)"

Var DeleteData
Var DeleteDataCheckbox

Section "!$(SectionProgram)" SecProgram
  SectionIn RO
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  ; An update must not keep libraries of the version it replaces.
  RMDir /r "$INSTDIR\_internal"
  File "${BUNDLE_DIR}\${EXE}"
  File /r "${BUNDLE_DIR}\_internal"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "The smbcrm developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "$(SectionStartMenu)" SecStartMenu
  SetShellVarContext current
  CreateShortCut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0 \
    SW_SHOWNORMAL "" "$(ShortcutComment)"
SectionEnd

Section "$(SectionDesktop)" SecDesktop
  SetShellVarContext current
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0 \
    SW_SHOWNORMAL "" "$(ShortcutComment)"
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecProgram} "$(DescProgram)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecStartMenu} "$(DescStartMenu)"
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "$(DescDesktop)"
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function .onInit
  SetShellVarContext current
  !insertmacro MUI_LANGDLL_DISPLAY
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP|MB_OK "$(Needs64Bit)"
    Abort
  ${EndIf}
FunctionEnd

; --- Uninstaller --------------------------------------------------------------------------

Function un.onInit
  SetShellVarContext current
  !insertmacro MUI_UNGETLANGUAGE
  StrCpy $DeleteData ${BST_UNCHECKED}
  ; `uninstall.exe /S /DELETEDATA` deletes the data without asking (for scripted removals).
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/DELETEDATA" $1
  ${IfNot} ${Errors}
    StrCpy $DeleteData ${BST_CHECKED}
  ${EndIf}
FunctionEnd

Function un.DataPageShow
  !insertmacro MUI_HEADER_TEXT "$(DataPageTitle)" "$(DataPageSubtitle)"
  nsDialogs::Create 1018
  Pop $0
  ${If} $0 == error
    Abort
  ${EndIf}
  ${NSD_CreateLabel} 0 0 100% 60u "$(DataPageText)"
  Pop $0
  ${NSD_CreateCheckbox} 0 72u 100% 12u "$(DataPageCheckbox)"
  Pop $DeleteDataCheckbox
  ${NSD_SetState} $DeleteDataCheckbox $DeleteData
  nsDialogs::Show
FunctionEnd

Function un.DataPageLeave
  ${NSD_GetState} $DeleteDataCheckbox $DeleteData
FunctionEnd

Section "Uninstall"
  SetShellVarContext current
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  ; Only what the installer put there: $INSTDIR may be a folder the user chose and shares.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ${If} $DeleteData == ${BST_CHECKED}
    RMDir /r "${DATA_DIR}"
    DeleteRegKey HKCU "${SETTINGS_KEY}"
  ${EndIf}
SectionEnd
