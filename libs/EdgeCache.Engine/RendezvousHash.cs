using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgeCache.Engine;

/// <summary>
/// Rendezvous (highest random weight) hashing of cache keys over stable node ids. Removing one
/// of N nodes moves only the keys that node owned (about 1/N); the others keep their node.
/// </summary>
public static class RendezvousHash
{
    public static ulong HashKey(string key) => XxHash64.HashToUInt64(MemoryMarshal.AsBytes(key.AsSpan()));

    public static ulong HashNode(string nodeId) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(nodeId), 0x5eed);

    /// <summary>The weight of a node for a key: a 64-bit mix of both hashes.</summary>
    public static ulong Score(ulong keyHash, ulong nodeHash)
    {
        // splitmix64 finaliser over the combined hashes.
        var z = keyHash ^ (nodeHash * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Index of the node with the highest score, skipping indexes in <paramref name="exclude"/>.</summary>
    public static int Pick(ulong keyHash, ReadOnlySpan<ulong> nodeHashes, ReadOnlySpan<int> exclude = default)
    {
        var best = -1;
        ulong bestScore = 0;
        for (var i = 0; i < nodeHashes.Length; i++)
        {
            if (exclude.Contains(i)) continue;
            var s = Score(keyHash, nodeHashes[i]);
            if (best < 0 || s > bestScore)
            {
                best = i;
                bestScore = s;
            }
        }

        return best;
    }
}
