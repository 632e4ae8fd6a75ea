"""The PowerShell completion script (Register-ArgumentCompleter -Native, tables as hashtables)."""

from __future__ import annotations

from etcdctl_py.docgen.completions import HEADER, Table


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _arr(items: list[str] | tuple[str, ...]) -> str:
    return "@(" + ", ".join(_q(i) for i in items) + ")"


def render(t: Table) -> str:
    out = [f"# PowerShell completion for {t.prog}: {HEADER}.",
           f"# Load with: etcdctl-py completion powershell --program {t.prog} | Out-String | Invoke-Expression", ""]
    out.append(f"Register-ArgumentCompleter -Native -CommandName {_q(t.prog)} -ScriptBlock {{")
    out.append("    param($wordToComplete, $commandAst, $cursorPosition)")
    out.append("    $subs = @{")
    for e in t.entries:
        if e.subs:
            out.append(f"        {_q(e.path)} = {_arr([n for n, _ in e.subs])}")
    out.append("    }")
    out.append("    $flags = @{")
    for e in t.entries:
        out.append(f"        {_q(e.path)} = {_arr([w for f in e.flags for w in t.flag_words(f)])}")
    out.append("    }")
    out.append("    $values = @{")
    for f in t.value_flags:
        for w in t.flag_words(f) + (["-" + f.name] if t.style == "goflag" else []):
            if f.values:
                out.append(f"        {_q(w)} = {_arr(f.values)}")
            elif f.complete:
                out.append(f"        {_q(w)} = {_q(':' + f.complete)}")
            else:
                out.append(f"        {_q(w)} = @()")
    out.append("    }")
    out.append("    $positional = @{")
    for e in t.entries:
        if e.args:
            out.append(f"        {_q(e.path)} = {_arr(e.args)}")
        elif e.args_complete:
            out.append(f"        {_q(e.path)} = {_q(':' + e.args_complete)}")
    out.append("    }")
    out.append(_BODY)
    out.append("}")
    return "\n".join(out) + "\n"


_BODY = r'''    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } |
        ForEach-Object { $_.ToString() })
    if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = @($words | Select-Object -SkipLast 1) }
    $path = ''
    $prev = ''
    for ($i = 1; $i -lt $words.Count; $i++) {
        $w = $words[$i]
        if ($w.StartsWith('-')) {
            if (-not $w.Contains('=') -and $values.ContainsKey($w)) {
                if ($i + 1 -lt $words.Count) { $i++ } else { $prev = $w }
            }
            continue
        }
        if ($subs.ContainsKey($path) -and $subs[$path] -contains $w) { $path = ($path + ' ' + $w).Trim() }
    }
    $word = $wordToComplete
    $prefix = ''
    if ($word -like '-*=*') {
        $prev = $word.Substring(0, $word.IndexOf('='))
        $prefix = $prev + '='
        $word = $word.Substring($word.IndexOf('=') + 1)
    }
    $candidates = @()
    if ($prev -ne '') {
        $v = $values[$prev]
        if ($v -is [string]) {
            $mode = if ($v -eq ':dir') { 'Directory' } else { 'Item' }
            $candidates = @(Get-ChildItem -Path "$word*" -ErrorAction SilentlyContinue |
                Where-Object { $mode -eq 'Item' -or $_.PSIsContainer } | ForEach-Object { $_.Name })
        } else {
            $candidates = @($v)
        }
    } elseif ($word.StartsWith('-')) {
        $candidates = @($flags[$path])
    } elseif ($subs.ContainsKey($path)) {
        $candidates = @($subs[$path])
    } elseif ($positional.ContainsKey($path)) {
        $p = $positional[$path]
        if ($p -is [string]) {
            $candidates = @(Get-ChildItem -Path "$word*" -ErrorAction SilentlyContinue | ForEach-Object { $_.Name })
        } else {
            $candidates = @($p)
        }
    }
    $candidates | Where-Object { $_ -like "$word*" } | ForEach-Object {
        [System.Management.Automation.CompletionResult]::new($prefix + $_, $_, 'ParameterValue', $_)
    }'''
