; Inno Setup script: per-machine installer over the PyInstaller bundle.
;
;   iscc /DAppVersion=0.1.0 packaging\windows\dispatch-console.iss
;
; Silent install for police IT (software deployment, Intune, SCCM):
;   DispatchConsole-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART ^
;       /DISTRICT_API_URL=https://cameras.district.example /WORKSTATION_ID=dispatch-pos-04 ^
;       /LOCK=district_api_url,workstation_id
; The values are written to %ProgramData%\DispatchConsole\config.toml (only when given,
; and only if IT has not written that file already). Group Policy (policy\*.admx) takes
; precedence over the file and is the better tool for many machines.
;
; No self-update: police IT decides which version runs; the console never downloads code.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (dispatch_console/__init__.py's __version__)
#endif

[Setup]
AppId={{6C7E1F0B-52B8-4C0F-9E7B-3E4D0A2C9B11}
AppName=Dispatch Console
AppVersion={#AppVersion}
AppPublisher=Dispatch Console maintainers
DefaultDirName={autopf}\DispatchConsole
DefaultGroupName=Dispatch Console
PrivilegesRequired=admin
ArchitecturesInstallIn64BitMode=x64compatible
ArchitecturesAllowed=x64compatible
OutputBaseFilename=DispatchConsole-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
DisableProgramGroupPage=yes
UninstallDisplayIcon={app}\DispatchConsole.exe

[Files]
Source: "..\..\dist\DispatchConsole\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Dirs]
; Users read the machine's settings; only administrators change them.
Name: "{commonappdata}\DispatchConsole"; Permissions: users-readexec

[Icons]
Name: "{autoprograms}\Dispatch Console"; Filename: "{app}\DispatchConsole.exe"

[Code]
function TomlString(const Value: String): String;
begin
  Result := Value;
  StringChangeEx(Result, '\', '\\', True);
  StringChangeEx(Result, '"', '\"', True);
  Result := '"' + Result + '"';
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  Config, Url, Workstation, Lock, Keys: String;
begin
  if CurStep <> ssPostInstall then Exit;
  Config := ExpandConstant('{commonappdata}\DispatchConsole\config.toml');
  if FileExists(Config) then Exit;  { IT's own file wins over installer properties }
  Url := ExpandConstant('{param:DISTRICT_API_URL|}');
  Workstation := ExpandConstant('{param:WORKSTATION_ID|}');
  Lock := ExpandConstant('{param:LOCK|}');
  if (Url = '') and (Workstation = '') then Exit;
  Keys := '# Written by the installer; see dispatch-console selftest.' + #13#10;
  if Url <> '' then Keys := Keys + 'district_api_url = ' + TomlString(Url) + #13#10;
  if Workstation <> '' then Keys := Keys + 'workstation_id = ' + TomlString(Workstation) + #13#10;
  if Lock <> '' then
  begin
    StringChangeEx(Lock, ',', '", "', True);
    Keys := Keys + 'locked = ["' + Lock + '"]' + #13#10;
  end;
  SaveStringToFile(Config, Keys, False);
end;
