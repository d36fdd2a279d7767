// Firebase web config: these identifiers are public by design (security rules protect data).
export const firebaseConfig = {
  authDomain: 'acme-shop.firebaseapp.com',
  projectId: 'acme-shop',
  storageBucket: 'acme-shop.appspot.com',
  messagingSenderId: '629406627216',
  appId: '1:507597143435:web:618ba0ef8fb626493eff54',
  measurementId: 'G-O4HCJLW35D',
};
