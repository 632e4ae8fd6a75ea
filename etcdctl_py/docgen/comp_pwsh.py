"""The PowerShell completion script (Register-ArgumentCompleter -Native, tables as hashtables)."""

from __future__ import annotations

from etcdctl_py.docgen.comptable import HEADER, PathEntry, Table
from etcdctl_py.docgen.model import FlagSpec


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _arr(items: list[str] | tuple[str, ...]) -> str:
    return "@(" + ", ".join(_q(i) for i in items) + ")"


def _hashtable(name: str, rows: list[tuple[str, str]]) -> list[str]:
    """`$name = @{ 'key' = value ... }` inside the completer's script block."""
    return [f"    ${name} = @{{", *(f"        {_q(k)} = {v}" for k, v in rows), "    }"]


def _value(f: FlagSpec) -> str:
    """A flag's value completion: its value list, ':file'/':dir' for names, or nothing."""
    if f.values:
        return _arr(f.values)
    return _q(":" + f.complete) if f.complete else "@()"


def _positional(e: PathEntry) -> str | None:
    if e.args:
        return _arr(e.args)
    return _q(":" + e.args_complete) if e.args_complete else None


def render(t: Table) -> str:
    out = [
        f"# PowerShell completion for {t.prog}: {HEADER}.",
        f"# Load with: etcdctl-py completion powershell --program {t.prog} | Out-String | Invoke-Expression",
        "",
    ]
    out.append(f"Register-ArgumentCompleter -Native -CommandName {_q(t.prog)} -ScriptBlock {{")
    out.append("    param($wordToComplete, $commandAst, $cursorPosition)")
    out += _hashtable("subs", [(e.path, _arr([n for n, _ in e.subs])) for e in t.entries if e.subs])
    out += _hashtable("flags", [(e.path, _arr(t.entry_flag_words(e))) for e in t.entries])
    out += _hashtable("values", [(w, _value(f)) for f in t.value_flags for w in t.value_flag_words(f)])
    positional = ((e.path, _positional(e)) for e in t.entries)
    out += _hashtable("positional", [(path, p) for path, p in positional if p is not None])
    out.append(_BODY)
    out.append("}")
    return "\n".join(out) + "\n"


_BODY = r"""    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -le $cursorPosition } |
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
    }"""
