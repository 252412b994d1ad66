using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

// An MSBuild task (compiled by RoslynCodeTaskFactory from Directory.Build.targets) that marks one version need of an
// ELF shared library weak: the dynamic loader then accepts the library on a system whose library lacks that version.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so asks libstdc++ for GLIBCXX_3.4.32 (GCC 13) for exactly one symbol,
// std::ios_base_library_init(), an anchor that is never called (it has no relocation). Debian 12 ships GCC 12's
// libstdc++ (GLIBCXX_3.4.30), so without this the library refuses to load. Setting VER_FLG_WEAK in that one
// Elf64_Vernaux entry changes two bytes of the project's own copy; the NuGet cache is never touched.
public sealed class WeakenVersionNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The library to change in place.</summary>
    [Required] public string Library { get; set; } = "";

    /// <summary>The version to mark weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string Version { get; set; } = "";

    public override bool Execute()
    {
        try
        {
            byte[] elf = File.ReadAllBytes(Library);
            int flagsOffset = FindVernauxFlags(elf, Version);
            if (flagsOffset < 0)
            {
                Log.LogMessage(MessageImportance.High, $"{Library} does not need {Version}; left as it is.");
                return true;
            }
            ushort flags = BitConverter.ToUInt16(elf, flagsOffset);
            if ((flags & VerFlgWeak) != 0)
            {
                Log.LogMessage(MessageImportance.High, $"The {Version} version need of {Library} is already weak.");
                return true;
            }
            using (var file = new FileStream(Library, FileMode.Open, FileAccess.ReadWrite))
            {
                file.Position = flagsOffset;
                file.Write(BitConverter.GetBytes((ushort)(flags | VerFlgWeak)), 0, 2);
            }
            byte[] after = File.ReadAllBytes(Library);
            if ((BitConverter.ToUInt16(after, FindVernauxFlags(after, Version)) & VerFlgWeak) == 0)
            {
                Log.LogError($"{Library}: the version need {Version} is still not weak after writing it");
                return false;
            }
            Log.LogMessage(MessageImportance.High,
                $"Marked the {Version} version need of {Library} weak, so it loads on a libstdc++ without it.");
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Log.LogError($"{Library}: cannot mark {Version} weak: {e.Message}");
            return false;
        }
    }

    /// <summary>The file offset of vna_flags of the Elf64_Vernaux entry naming <paramref name="version"/>, or -1.</summary>
    private static int FindVernauxFlags(byte[] elf, string version)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a 64-bit little-endian ELF file");
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            int header = checked((int)(shoff + (long)i * shentsize));
            if (BitConverter.ToUInt32(elf, header + 4) != ShtGnuVerneed) continue;
            int sectionOffset = checked((int)BitConverter.ToInt64(elf, header + 0x18));
            int linkedStrings = (int)BitConverter.ToUInt32(elf, header + 0x28);
            int entries = (int)BitConverter.ToUInt32(elf, header + 0x2C);
            int stringsHeader = checked((int)(shoff + (long)linkedStrings * shentsize));
            int strings = checked((int)BitConverter.ToInt64(elf, stringsHeader + 0x18));

            int verneed = sectionOffset;
            for (int n = 0; n < entries; n++)
            {
                int count = BitConverter.ToUInt16(elf, verneed + 2);
                int vernaux = verneed + (int)BitConverter.ToUInt32(elf, verneed + 8);
                for (int a = 0; a < count; a++)
                {
                    int name = strings + (int)BitConverter.ToUInt32(elf, vernaux + 8);
                    if (NameAt(elf, name) == version) return vernaux + 4;
                    vernaux += (int)BitConverter.ToUInt32(elf, vernaux + 12);
                }
                verneed += (int)BitConverter.ToUInt32(elf, verneed + 12);
            }
        }
        return -1;
    }

    private static string NameAt(byte[] elf, int offset)
    {
        int end = Array.IndexOf(elf, (byte)0, offset);
        if (end < 0) throw new InvalidDataException("unterminated string in .dynstr");
        return Encoding.ASCII.GetString(elf, offset, end - offset);
    }
}
