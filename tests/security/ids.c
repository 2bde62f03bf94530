/* Prints the real and effective uid: a setuid-root copy of it in an image
 * shows whether exec gained privileges (noNewPrivileges tests). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
    return 0;
}
