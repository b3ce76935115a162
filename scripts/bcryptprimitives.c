/*
 * bcryptprimitives.c: the one function of Windows' bcryptprimitives.dll that
 * Go programs need, for Wine 8, which lacks it.
 *
 * Since Go 1.24 the Windows runtime takes its random bytes from ProcessPrng
 * (bcryptprimitives.dll, Windows 10 and later); Wine added ProcessPrng only in
 * Wine 9, so under Debian 12's Wine 8 every Go program dies at startup.
 * scripts/wine builds this file into the Wine prefix's system32, where it is
 * only ever loaded by Wine: real Windows has its own.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *            bcryptprimitives.c -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

/* ProcessPrng fills data with len random bytes from the system's generator,
 * as Windows' does: it returns TRUE, or FALSE when the generator fails. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		/* BCryptGenRandom takes a ULONG length; SIZE_T is wider. */
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
